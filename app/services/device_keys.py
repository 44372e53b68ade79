"""Device keys: the long random key inside the server URL that ODK Collect (or KoboCollect, or an
Enketo server) uses instead of a password, one or more per inspector.

A key is shown once, when it is made (with the server URL and the settings QR code); only its
keyed hash is stored, like a bearer token. An inspector makes keys for themselves, an admin for
an inspector in their scope; both may list and revoke them. Making and revoking are audited (never
with the key). A bad or revoked key is a 403 (no password prompt on the phone).
"""
import base64
import io
import json
import secrets
import zlib
from datetime import datetime, timezone

from sqlalchemy import select

from app.access import code_in_scope, in_scope
from app.auth import token_digest
from app.errors import Forbidden, NotFound, ValidationFailed
from app.extensions import db
from app.models import DeviceKey, User
from app.services.audit import record_audit

KEY_BYTES = 32  # 43 URL-safe characters
PROJECT_NAME = "鸡西农村人居环境巡查"
PROJECT_COLOR = "#2e7d32"


def key_digest(key):
    # a separate namespace from bearer tokens: a device key is never a bearer token
    return token_digest(f"device-key:{key}")


def _target_user(actor, user_id):
    if user_id is None or user_id == actor.id:
        target = actor
    elif actor.role != "admin":
        raise Forbidden("Inspectors make device keys for themselves only.", message_zh="巡查员只能为自己创建设备密钥。")
    else:
        target = db.session.get(User, user_id)
        if target is None or not code_in_scope(target.scope_code, actor):
            raise NotFound(f"User {user_id} not found in your scope.", message_zh="您的辖区内没有该用户。")
    if target.role != "inspector" or not target.active:
        raise ValidationFailed(fields={"user_id": ["device keys are for active inspectors (they submit inspections)"]},
                               message_zh="设备密钥只能发给在岗的巡查员。")
    return target


def create_device_key(actor, user_id=None, label=None):
    """(DeviceKey, plain key) for `actor` or, for an admin, an inspector in scope. Flushes."""
    if actor.role not in ("inspector", "admin"):
        raise Forbidden(f"The {actor.role} role may not make device keys.")
    target = _target_user(actor, user_id)
    key = secrets.token_urlsafe(KEY_BYTES)
    row = DeviceKey(user_id=target.id, user=target, key_hash=key_digest(key), label=label, created_by_id=actor.id)
    db.session.add(row)
    db.session.flush()
    record_audit("device_key.created", "device_key", row.id, actor=actor, division_code=target.scope_code,
                 details={"user_id": target.id, "username": target.username, "label": label})
    return row, key


def visible_device_keys(actor):
    """SQL condition: the keys `actor` may see (their own; an admin's: every user's in scope)."""
    if actor.role == "admin":
        return DeviceKey.user_id.in_(select(User.id).where(in_scope(User.scope_code, actor)))
    if actor.role == "inspector":
        return DeviceKey.user_id == actor.id
    raise Forbidden(f"The {actor.role} role has no device keys.")


def list_device_keys(actor, user_id=None, active=None):
    stmt = select(DeviceKey).where(visible_device_keys(actor)).order_by(DeviceKey.id.desc())
    if user_id is not None:
        stmt = stmt.where(DeviceKey.user_id == user_id)
    if active is True:
        stmt = stmt.where(DeviceKey.revoked_at.is_(None))
    elif active is False:
        stmt = stmt.where(DeviceKey.revoked_at.is_not(None))
    return db.session.scalars(stmt).all()


def revoke_device_key(actor, key_id):
    """Revoke a key (idempotent); 404 for a key `actor` may not see. Flushes."""
    row = db.session.scalar(select(DeviceKey).where(DeviceKey.id == key_id, visible_device_keys(actor)))
    if row is None:
        raise NotFound(f"Device key {key_id} not found.", message_zh="未找到该设备密钥。")
    if row.revoked_at is None:
        row.revoked_at = datetime.now(timezone.utc)
        record_audit("device_key.revoked", "device_key", row.id, actor=actor, division_code=row.user.scope_code,
                     details={"user_id": row.user_id, "username": row.user.username, "label": row.label})
        db.session.flush()
    return row


def authenticate_device_key(key):
    """The active DeviceKey for a key from a server URL, or 403 (Collect shows the message and
    never prompts for a password, as it would for a 401)."""
    row = None
    if key and len(key) <= 200:
        row = db.session.scalar(select(DeviceKey).where(DeviceKey.key_hash == key_digest(key)))
    if row is None or row.revoked_at is not None or not row.user.active or row.user.role != "inspector":
        raise Forbidden("This device key is not valid (revoked or mistyped): ask for a new QR code.",
                        message_zh="设备密钥无效（已撤销或有误），请向管理员索取新的二维码。")
    return row


def mark_used(row):
    row.last_used_at = datetime.now(timezone.utc)


# --- setting a phone up: Collect's settings QR code --------------------------------------------

def collect_settings(server_url, user):
    """Collect's settings (the JSON its "Configure with QR code" reads)."""
    name = user.display_name or user.username
    return {
        "general": {
            "server_url": server_url,
            "form_update_mode": "match_exactly",
            "periodic_form_updates_check": "every_one_hour",
            "autosend": "wifi_and_cellular",
            "metadata_username": name,
        },
        "admin": {},
        "project": {"name": f"{PROJECT_NAME} · {name}", "icon": "巡", "color": PROJECT_COLOR},
    }


def settings_qr_text(settings):
    """What the QR code holds: the settings JSON, zlib-compressed, base64 (Collect's format)."""
    raw = json.dumps(settings, ensure_ascii=False, separators=(",", ":")).encode()
    return base64.b64encode(zlib.compress(raw)).decode("ascii")


def decode_settings_qr_text(text):
    return json.loads(zlib.decompress(base64.b64decode(text)))


def settings_qr_png(settings):
    import segno

    out = io.BytesIO()
    segno.make(settings_qr_text(settings), error="l", micro=False).save(out, kind="png", scale=6, border=4)
    return out.getvalue()


def settings_qr_data_url(settings):
    return "data:image/png;base64," + base64.b64encode(settings_qr_png(settings)).decode("ascii")

