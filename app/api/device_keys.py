"""Device keys (the server URL and settings QR code for ODK Collect / KoboCollect / Enketo) and
the OpenRosa submissions still waiting for photos."""
from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from app.api.openrosa import server_url_for
from app.auth import auth_required
from app.extensions import db
from app.schemas.common import page_of, paginated
from app.schemas.device_keys import (
    DeviceKeyCreateArgs,
    DeviceKeyCreatedSchema,
    DeviceKeyListArgs,
    DeviceKeyListSchema,
    WaitingArgs,
    WaitingSubmissionSchema,
)
from app.services.device_keys import (
    collect_settings,
    create_device_key,
    list_device_keys,
    revoke_device_key,
    settings_qr_data_url,
)
from app.services.openrosa import describe_waiting, waiting_submissions_query

blp = Blueprint("device_keys", __name__, url_prefix="/api/v1",
                description="Device keys for ODK Collect, KoboCollect and Enketo (OpenRosa), and submissions "
                            "still waiting for photos.")


def _describe(row):
    return {"id": row.id, "user": row.user, "label": row.label, "created_at": row.created_at,
            "created_by": row.created_by, "last_used_at": row.last_used_at, "revoked_at": row.revoked_at,
            "active": row.revoked_at is None}


@blp.route("/device-keys")
class DeviceKeys(MethodView):
    @blp.arguments(DeviceKeyCreateArgs)
    @blp.response(201, DeviceKeyCreatedSchema)
    @auth_required(roles=("inspector", "admin"))
    def post(self, args):
        """Make a device key: an inspector for themselves, an admin for an inspector in scope. The
        answer carries the key (shown once), Collect's `server_url` (`<base>/openrosa/key/<key>`) and
        `settings_qr`, a PNG of Collect's settings QR code as a data: URL (scan it in Collect:
        Settings → Project management → Reconfigure with QR code, or when adding a project)."""
        row, key = create_device_key(g.user, args.get("user_id"), args.get("label"))
        server_url = server_url_for(key)
        settings = collect_settings(server_url, row.user)
        body = {**_describe(row), "key": key, "server_url": server_url, "settings": settings,
                "settings_qr": settings_qr_data_url(settings)}
        db.session.commit()
        return body, 201

    @blp.arguments(DeviceKeyListArgs, location="query")
    @blp.response(200, DeviceKeyListSchema)
    @auth_required(roles=("inspector", "admin"))
    def get(self, args):
        """Device keys: an inspector's own; an admin's: every inspector's in scope (newest first,
        revoked ones too unless `active=true`). Never the key itself."""
        rows = list_device_keys(g.user, args.get("user_id"), args.get("active"))
        return {"items": [_describe(r) for r in rows]}


@blp.route("/device-keys/<int(max=2147483647):key_id>")
class DeviceKeyDetail(MethodView):
    @blp.response(204)
    @auth_required(roles=("inspector", "admin"))
    def delete(self, key_id):
        """Revoke a device key (its owner, or an admin in scope); the phone's next request gets 403.
        Revoking twice is fine."""
        revoke_device_key(g.user, key_id)
        db.session.commit()
        return "", 204


@blp.route("/openrosa/waiting")
class WaitingSubmissions(MethodView):
    @blp.arguments(WaitingArgs, location="query")
    @blp.response(200, page_of(WaitingSubmissionSchema))
    @auth_required()
    def get(self, args):
        """OpenRosa submissions whose photos have not all arrived yet (split uploads): not in the
        review queue until they have (OPENROSA_MISSING_PHOTOS=wait). Reviewers and above: the villages
        in scope; inspectors: their own. Each says e.g. "照片 2/3 已到" and which files are missing."""
        page = paginated(db.paginate(waiting_submissions_query(g.user), page=args["page"],
                                     per_page=args["per_page"], error_out=False))
        page["items"] = [describe_waiting(r) for r in page["items"]]
        return page
