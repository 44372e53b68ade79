"""All tables; importing this module registers them on the metadata."""
from app.models.division import CODE_LENGTH, LEVELS, VILLAGE_KINDS, Division, subtree
from app.models.inspection import (
    ASPECTS,
    METRICS,
    STATUSES,
    Inspection,
    InspectionFlag,
    InspectionPhoto,
    InspectionVersion,
)
from app.models.openrosa import DeviceKey, OpenRosaSubmission, XFormVersion
from app.models.photo import Photo, PhotoHashBand, PhotoUpload
from app.models.review import DECISIONS, AuditEntry, Comment, Review, WebhookDelivery
from app.models.target import DEFAULT_TARGETS, Target
from app.models.user import ROLES, ApiToken, LoginThrottle, User
from app.models.village_status import VillageLatest
from app.models.webhook_endpoint import WEBHOOK_EVENTS, WebhookEndpoint

__all__ = [
    "ASPECTS", "CODE_LENGTH", "DECISIONS", "DEFAULT_TARGETS", "LEVELS", "METRICS", "ROLES", "STATUSES",
    "VILLAGE_KINDS", "ApiToken", "AuditEntry", "Comment", "DeviceKey", "Division", "Inspection", "InspectionFlag",
    "InspectionPhoto", "InspectionVersion", "LoginThrottle", "OpenRosaSubmission", "Photo", "PhotoHashBand", "PhotoUpload", "Review", "Target",
    "User", "VillageLatest", "WEBHOOK_EVENTS", "WebhookDelivery", "WebhookEndpoint", "XFormVersion", "subtree",
]
