"""Webhook endpoints per division (administrators, within their scope) and "send test event"."""
from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth import auth_required
from app.extensions import db
from app.schemas.common import page_of, paginated
from app.schemas.webhook_endpoints import (
    EndpointCreateArgs,
    EndpointListArgs,
    EndpointSchema,
    EndpointUpdateArgs,
    EndpointWithSecretSchema,
    PingResultSchema,
)
from app.services.webhook_endpoints import (
    create_endpoint,
    delete_endpoint,
    endpoints_query,
    get_endpoint,
    update_endpoint,
)
from app.services.webhook_ping import ping_endpoint

blp = Blueprint("webhook_endpoints", __name__, url_prefix="/api/v1",
                description="Webhook endpoints per township (or any division in an administrator's scope).")

ADMIN = ("admin",)
ENDPOINT_ID = "<int(max=9223372036854775807):endpoint_id>"


@blp.route("/webhook-endpoints")
class WebhookEndpoints(MethodView):
    @blp.arguments(EndpointListArgs, location="query")
    @blp.response(200, page_of(EndpointSchema))
    @auth_required(roles=ADMIN)
    def get(self, args):
        """The endpoints of divisions in your scope, by division; filter by `division` (a subtree) and
        `active`. The secrets are never listed."""
        stmt = endpoints_query(g.user, args.get("division"), args.get("active"))
        return paginated(db.paginate(stmt, page=args["page"], per_page=args["per_page"], error_out=False))

    @blp.arguments(EndpointCreateArgs)
    @blp.response(201, EndpointWithSecretSchema)
    @auth_required(roles=ADMIN)
    def post(self, args):
        """Add an endpoint for a division in your scope (outside it: 404): it receives the events of
        the inspections in the division's subtree (`events`, default all), each POST signed with
        `X-Signature: sha256=<HMAC-SHA256 of the body>` keyed by the endpoint's own `secret`, which
        this answer shows once. `url` must be http:// or https:// (422 otherwise). Audited."""
        endpoint, secret = create_endpoint(g.user, args["division_code"], args["url"], args["events"],
                                           args["active"])
        db.session.commit()
        endpoint.new_secret = secret  # for this answer only
        return endpoint, 201


@blp.route(f"/webhook-endpoints/{ENDPOINT_ID}")
class WebhookEndpointDetail(MethodView):
    @blp.response(200, EndpointSchema)
    @auth_required(roles=ADMIN)
    def get(self, endpoint_id):
        """One endpoint in your scope (404 otherwise); without its secret."""
        return get_endpoint(endpoint_id, g.user)

    @blp.arguments(EndpointUpdateArgs)
    @blp.response(200, EndpointWithSecretSchema)
    @auth_required(roles=ADMIN)
    def patch(self, args, endpoint_id):
        """Change `url`, `events` (null: all), `division_code` (within your scope) or `active` (false:
        it receives nothing more and its pending deliveries become failed); `rotate_secret: true`
        replaces the signing secret, shown once in `secret`. Audited as webhook_endpoint.updated,
        .disabled, .enabled, .secret_rotated."""
        endpoint, secret = update_endpoint(get_endpoint(endpoint_id, g.user), g.user, **args)
        db.session.commit()
        endpoint.new_secret = secret  # for this answer only (null unless rotated)
        return endpoint

    @blp.response(204)
    @auth_required(roles=ADMIN)
    def delete(self, endpoint_id):
        """Delete the endpoint: its past deliveries stay listed, its pending ones become failed.
        Audited as webhook_endpoint.deleted."""
        delete_endpoint(get_endpoint(endpoint_id, g.user), g.user)
        db.session.commit()
        return "", 204


@blp.route(f"/webhook-endpoints/{ENDPOINT_ID}/test")
class WebhookEndpointTest(MethodView):
    @blp.response(200, PingResultSchema)
    @auth_required(roles=ADMIN)
    def post(self, endpoint_id):
        """Send test event: POST a signed `ping` event to the endpoint now (within
        WEBHOOK_TIMEOUT_SECONDS) and answer what happened: `ok`, `status_code` or `error`,
        `duration_ms`. The ping is kept as a delivery (delivered or failed; never retried)."""
        return ping_endpoint(endpoint_id, g.user)
