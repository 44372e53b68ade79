"""OpenRosa submissions (ODK Collect, KoboCollect, Enketo) become inspections through the same
steps as the JSON API: the content is applied, photos are stored by the photo pipeline and linked,
flags are computed by services/flags.py, a version row, an audit entry and a webhook event are
written; the inspection has `source = "openrosa"` and lands in the township's review queue.

What differs, because a finalized form cannot be fixed on the phone:

- **Identity.** `meta/instanceID` is the idempotency key: the inspection's `client_uuid` is the
  UUID inside it (`uuid:…`; another form of id gets a name-based UUID), the original string is kept
  on the `openrosa_submissions` row. The same instanceID with byte-identical XML adds any new
  attachments and answers 201; different XML is a 409. Concurrent identical POSTs make one row
  (unique `instance_id`, insert in a savepoint, re-read on IntegrityError).
- **Split uploads.** Every POST of one instance adds its photos to that one row. The inspection
  is made when every photo the XML names has arrived; until then the row waits outside the queue
  (`OPENROSA_MISSING_PHOTOS=wait`, the default), or the inspection enters the queue at once with
  the `photos_missing` flag ("照片 2/3 已到") and the late photos are added as they come (`review`).
- **Edits.** An instance with `meta/deprecatedID` replaces the inspection of that earlier instance
  when it is `returned` (version + 1, like `PUT /inspections/{id}`); its photos with the same file
  names are carried forward. Any other status is a 409 saying why.
- **Flags instead of refusals.** An answer the JSON API would refuse but from which something useful
  can still be stored is stored and flagged: a village outside the key owner's scope
  (`village_out_of_scope`), an aspect whose answers are impossible (`impossible_answer`: the aspect
  is left out, the values are in the facts), photos missing or unreadable (`photos_missing`). As in
  the JSON API, a finish time ahead of the server's clock is stored as the time of receipt with
  `clock_skew` (the phone's `end` is sent as `device_observed_at`), and a form without a geopoint
  gets `no_location`. Refused (4xx) is only what cannot be stored usefully: not an instance of our
  form, encrypted, no instanceID, no known village.
"""
import hashlib
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException
from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.access import at_least, code_in_scope, in_scope
from app.domain import BY_ASPECT, CHECKLIST, FLAG_CODES, MAX_NOTES_CHARS, PHOTO_REQUIRED
from app.errors import (
    BadRequest,
    DuplicateConflict,
    InvalidTransition,
    NotFound,
    PhotoTooLarge,
    UnprocessablePhoto,
    UnsupportedMediaType,
    ValidationFailed,
)
from app.extensions import db
from app.models import Division, Inspection, InspectionFlag, InspectionVersion, OpenRosaSubmission, Photo
from app.models.types import CHINA
from app.services.audit import record_audit
from app.services.device_keys import mark_used
from app.services.flags import apply_flags
from app.services.inspections import (
    _apply_content,
    _link_photos,
    _record_version,
    insert_inspection,
    link_photos,
    record_submission,
)
from app.services.photos import read_upload, store_photo
from app.services.webhooks import queue_inspection_event
from app.services.xform import FORM_ID, answered_name, photo_name, photos_name

MAX_PHOTOS_PER_ASPECT = 20  # as the JSON API (schemas/inspections.py); further photos are not linked
INSTANCE_NAMESPACE = uuid.UUID("6f1d8c1e-3b0a-4f4e-9a55-0e7b8f1a9c21")  # ids that are not uuid:…
STATUS_ZH = {"submitted": "待审核", "approved": "已通过", "rejected": "已驳回", "returned": "已退回"}


# --- reading the instance XML --------------------------------------------------------------------

@dataclass
class Instance:
    """What one instance XML says, by element local names (namespaces and prefixes ignored)."""

    form_id: str | None
    form_version: str | None
    instance_id: str | None
    deprecated_id: str | None
    device_id: str | None
    start: datetime | None
    end: datetime | None
    village: str | None
    location: tuple | None  # (lat, lon, altitude, accuracy)
    raw_answers: dict  # {aspect: {item: text}} of the aspects answered
    files: list  # [(aspect, file name)] in document order, duplicates kept
    notes: str | None
    encrypted: bool = False
    problems: dict = field(default_factory=dict)  # {aspect: {"values", "errors"}}: impossible answers


def _local(tag):
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _child(element, name):
    if element is None:
        return None
    return next((c for c in element if _local(c.tag) == name), None)


def _children(element, name):
    return [] if element is None else [c for c in element if _local(c.tag) == name]


def _text(element):
    if element is None or element.text is None:
        return None
    value = element.text.strip()
    return value or None


def parse_datetime(value):
    """An ODK dateTime (2026-09-01T09:12:33.120+08:00, older Collect: +08) as aware UTC; without an
    offset it is China time. None when empty or unreadable."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=CHINA)
    return parsed.astimezone(timezone.utc)


def parse_geopoint(value):
    """'lat lon altitude accuracy' -> (lat, lon, altitude, accuracy) or None."""
    if not value:
        return None
    parts = value.split()
    try:
        numbers = [float(p) for p in parts[:4]]
    except ValueError:
        return None
    if len(numbers) < 2 or not -90 <= numbers[0] <= 90 or not -180 <= numbers[1] <= 180:
        return None
    numbers += [None] * (4 - len(numbers))
    lat, lon, altitude, accuracy = numbers
    if accuracy is not None and not 0 <= accuracy <= 1_000_000:
        accuracy = None
    return lat, lon, altitude, accuracy


def parse_instance(xml_bytes):
    """Instance from the XML bytes; 400 for XML that cannot be read (or is unsafe to)."""
    try:
        root = ElementTree.fromstring(xml_bytes, forbid_dtd=True)
    except (ElementTree.ParseError, DefusedXmlException, ValueError):
        raise BadRequest("The submission XML cannot be read.", message_zh="提交的表单数据（XML）无法读取。") from None
    meta = _child(root, "meta")
    encrypted = root.get("encrypted") == "yes" or _child(root, "base64EncryptedKey") is not None
    raw_answers, files = {}, []
    for aspect in CHECKLIST:
        name = aspect["aspect"]
        group = _child(root, name)
        if aspect.get("optional") and _text(_child(root, answered_name(name))) != "yes":
            continue
        if group is None:
            continue
        values = {item["key"]: _text(_child(group, item["key"])) for item in aspect["items"]}
        if any(v is not None for v in values.values()):
            raw_answers[name] = values
        for repeat in _children(group, photos_name(name)):
            file_name = _text(_child(repeat, photo_name(name)))
            if file_name:
                files.append((name, file_name))
    notes = _text(_child(root, "notes"))
    return Instance(
        form_id=root.get("id"), form_version=root.get("version"),
        instance_id=_text(_child(meta, "instanceID")), deprecated_id=_text(_child(meta, "deprecatedID")),
        device_id=_text(_child(root, "deviceid")),
        start=parse_datetime(_text(_child(root, "start"))), end=parse_datetime(_text(_child(root, "end"))),
        village=_text(_child(root, "village")), location=parse_geopoint(_text(_child(root, "location"))),
        raw_answers=raw_answers, files=files, notes=notes[:MAX_NOTES_CHARS] if notes else None,
        encrypted=encrypted,
    )


def typed_answers(instance):
    """{aspect: {item: value}}: the text values as the JSON API's types (是/否 -> true/false,
    counts -> integers); a value that does not convert stays text (the schema then refuses it).
    Empty items are left out."""
    answers = {}
    for aspect, values in instance.raw_answers.items():
        items = {i["key"]: i for i in BY_ASPECT[aspect]["items"]}
        typed = {}
        for key, text in values.items():
            if text is None:
                continue
            kind = items[key]["type"]
            if kind == "boolean":
                typed[key] = {"yes": True, "no": False}.get(text, text)
            elif kind == "integer":
                typed[key] = int(text) if re.fullmatch(r"-?\d{1,12}", text) else text
            else:
                typed[key] = text
        answers[aspect] = typed
    return answers


def client_uuid_for(instance_id):
    """The inspection's client_uuid: the UUID of `uuid:…`, or a name-based one for other ids."""
    text = instance_id.removeprefix("uuid:").strip()
    try:
        return uuid.UUID(text)
    except ValueError:
        return uuid.uuid5(INSTANCE_NAMESPACE, instance_id)


# --- receiving a POST ----------------------------------------------------------------------------

@dataclass
class Receipt:
    """What a POST did: `outcome` is created | resubmitted | waiting | photos_added | duplicate."""

    outcome: str
    submission: OpenRosaSubmission
    inspection: Inspection | None
    received: int
    expected: int

    @property
    def message(self):
        """(Chinese, English) for Collect's message to the inspector."""
        count_zh, count_en = f"照片 {self.received}/{self.expected} 已到", f"{self.received} of {self.expected} photos received"
        if self.outcome == "waiting":
            return (f"已收到，{count_zh}，其余照片到齐后进入审核。", f"Received; {count_en}. It goes to review when all have arrived.")
        complete = self.received >= self.expected
        tail_zh = "" if complete else f"（{count_zh}）"
        tail_en = "" if complete else f" ({count_en})"
        if self.outcome == "created":
            return (f"提交成功，已进入乡镇审核队列{tail_zh}。", f"Submitted: in the township's review queue{tail_en}.")
        if self.outcome == "resubmitted":
            return (f"修改已提交（第 {self.inspection.version} 版），等待乡镇审核{tail_zh}。",
                    f"Edit submitted (version {self.inspection.version}), waiting for review{tail_en}.")
        if self.outcome == "photos_added":
            return (f"照片已补充，{count_zh}。", f"Photos added: {count_en}.")
        return (f"此表单已收到，无需重复发送（{count_zh}）。", f"Already received ({count_en}).")


def _check_form(instance):
    if instance.encrypted:
        raise BadRequest("Encrypted forms are not supported by this server.", message_zh="本服务器不支持加密表单。")
    if instance.form_id != FORM_ID:
        raise BadRequest(f"Unknown form {instance.form_id!r}: download the current form (表单 {FORM_ID}).",
                         message_zh=f"未知表单 {instance.form_id}，请重新下载巡查表单。")
    if not instance.instance_id or len(instance.instance_id) > 100:
        raise BadRequest("The submission has no meta/instanceID.", message_zh="提交缺少 instanceID。")
    if instance.deprecated_id and len(instance.deprecated_id) > 100:
        raise BadRequest("meta/deprecatedID is too long.", message_zh="deprecatedID 过长。")


def _village(instance):
    code = instance.village
    village = db.session.get(Division, code) if code and len(code) <= 12 else None
    if village is None or village.level != "village":
        raise ValidationFailed(f"Unknown village {code!r}: update the form and send again.",
                               message_zh=f"村代码 {code} 不存在，请更新表单后重新填写。", fields={"village": ["unknown village"]})
    return village


def _lock(instance_id):
    stmt = (select(OpenRosaSubmission).where(OpenRosaSubmission.instance_id == instance_id)
            .execution_options(populate_existing=True))
    if db.session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(of=OpenRosaSubmission)
    return db.session.scalar(stmt)


def _check_repeat(row, user, digest):
    """A POST for an instance already received: the same owner and byte-identical XML, else 409."""
    if row.user_id != user.id:
        raise DuplicateConflict("This instanceID was already sent by another user.",
                                message_zh="该表单编号（instanceID）已由其他用户提交。")
    if row.xml_sha256 != digest:
        raise DuplicateConflict(
            "This form was already sent with different content; to change it, edit the sent form "
            "after the reviewer returns it.",
            message_zh="该表单已提交过且内容不同。如需修改，请在审核员退回后编辑已发送的表单再提交。",
            details={"instance_id": row.instance_id, "inspection_id": row.inspection_id})


def _load_inspection(inspection_id, user, lock=True):
    stmt = (select(Inspection).where(Inspection.id == inspection_id, Inspection.inspector_id == user.id)
            .execution_options(populate_existing=True))
    if lock and db.session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(of=Inspection)
    return db.session.scalar(stmt)


def _edit_target(instance, user):
    """(earlier submission row, its inspection) that an edit replaces; 404 / 409 when it may not."""
    previous = db.session.scalar(select(OpenRosaSubmission).where(
        OpenRosaSubmission.instance_id == instance.deprecated_id, OpenRosaSubmission.user_id == user.id))
    if previous is None:
        raise NotFound("The form this edit replaces (deprecatedID) was never received here.",
                       message_zh="要修改的原表单（deprecatedID）未在本服务器找到。",
                       details={"deprecated_id": instance.deprecated_id})
    inspection = _load_inspection(previous.inspection_id, user) if previous.inspection_id else None
    if inspection is None:
        raise InvalidTransition("The form this edit replaces has not reached review yet (its photos are still "
                                "arriving); an edit is accepted once the reviewer has returned it.",
                                message_zh="原表单的照片尚未全部到达、还未进入审核，不能修改；请等审核员退回后再编辑提交。",
                                details={"status": None})
    if inspection.status != "returned":
        status_zh = STATUS_ZH.get(inspection.status, inspection.status)
        raise InvalidTransition(
            f"Inspection {inspection.id} is {inspection.status}: only an inspection the reviewer returned can be "
            "edited and sent again.",
            message_zh=f"该巡查记录当前状态为“{status_zh}”，只有被审核员退回的记录才能修改后重新提交。",
            details={"status": inspection.status, "inspection_id": inspection.id,
                     "current_version": inspection.version})
    return previous, inspection


def _store_files(instance, files, row, user):
    """Store the named files present in this POST (and not received before): ({name: photo id},
    {name: reason}). Parts the XML does not name are ignored; a name is stored once. A file the
    photo pipeline refuses (too large, not an image, corrupt) will not get better by sending it
    again: it is recorded as unreadable and reported in the photos_missing flag."""
    received, unreadable = {}, {}
    for name in dict.fromkeys(f for _, f in instance.files):
        if name not in files or (row is not None and (name in row.received or name in row.unreadable)):
            continue
        try:
            photo, _ = store_photo(read_upload(files[name]), user)
        except (PhotoTooLarge, UnsupportedMediaType, UnprocessablePhoto) as exc:
            unreadable[name] = exc.code
            continue
        received[name] = photo.id
    return received, unreadable


def receive_submission(user, device_key, instance, answers, problems, xml_bytes, files):
    """One POST of an instance: `answers` are the validated aspects, `problems` the aspects that
    failed validation ({aspect: {"values", "errors"}}), `files` {file name: FileStorage} of the
    request's file parts. Returns a Receipt. Flushes; the caller commits."""
    _check_form(instance)
    village = _village(instance)
    digest = hashlib.sha256(xml_bytes).hexdigest()
    row = _lock(instance.instance_id)
    if row is not None:
        _check_repeat(row, user, digest)
    elif instance.deprecated_id:
        _edit_target(instance, user)
    received, unreadable = _store_files(instance, files, row, user)
    if row is None:
        row, inserted = _insert(user, device_key, instance, village, xml_bytes, digest)
        if not inserted:  # an identical POST at the same moment made the row: it is ours to add to
            _check_repeat(row, user, digest)
    else:
        row.posts += 1
    new_names = [n for n in received if n not in row.received]
    row.received = {**row.received, **{n: received[n] for n in new_names}}
    row.unreadable = {**row.unreadable, **{n: r for n, r in unreadable.items() if n not in row.unreadable}}
    if device_key is not None:
        mark_used(device_key)
    db.session.flush()
    return _materialize(row, user, instance, village, answers, problems, bool(new_names or unreadable))


def _insert(user, device_key, instance, village, xml_bytes, digest):
    carried = {}
    if instance.deprecated_id:
        previous, _ = _edit_target(instance, user)
        carried = {name: previous.received[name] for _, name in instance.files if name in previous.received}
    row = OpenRosaSubmission(
        instance_id=instance.instance_id, deprecated_id=instance.deprecated_id, user_id=user.id,
        device_key_id=getattr(device_key, "id", None), device_id=(instance.device_id or "")[:100] or None,
        form_id=instance.form_id, form_version=(instance.form_version or "")[:32] or None,
        village_code=village.code, observed_at=instance.end or instance.start, xml=xml_bytes, xml_sha256=digest,
        files=[[aspect, name] for aspect, name in instance.files], received=carried, unreadable={},
        complete=False, posts=1,
    )
    try:
        with db.session.begin_nested():
            db.session.add(row)
            db.session.flush()
    except IntegrityError:
        existing = _lock(instance.instance_id)
        if existing is None:
            raise
        existing.posts += 1
        return existing, False
    return row, True


# --- from a complete (or, in review mode, any) submission to an inspection --------------------------

def _times(instance, now):
    """(observed_at, device_observed_at) for the content: the phone's `end` (else `start`) is both
    what it says and its own clock reading, so the shared content step (services/inspections.py)
    stores a time ahead of the server as the time of receipt and flags `clock_skew`. Without either,
    the time of receipt."""
    device = instance.end or instance.start
    return (now, None) if device is None else (device, device)


def _photos(row):
    """[(aspect, Photo)] of the received files, in XML order; one link per aspect and photo."""
    ids = {pid for pid in row.received.values()}
    rows = {p.id: p for p in db.session.scalars(select(Photo).where(Photo.id.in_(ids)))} if ids else {}
    out, seen, per_aspect = [], set(), {}
    for aspect, name in row.files:
        photo = rows.get(row.received.get(name))
        if photo is None or (aspect, photo.id) in seen or per_aspect.get(aspect, 0) >= MAX_PHOTOS_PER_ASPECT:
            continue
        seen.add((aspect, photo.id))
        per_aspect[aspect] = per_aspect.get(aspect, 0) + 1
        out.append((aspect, photo))
    return out


def _photos_missing(row, answers):
    names = list(dict.fromkeys(f for _, f in row.files))
    missing = row.waiting_for()
    named_aspects = {aspect for aspect, _ in row.files}
    without = sorted(a for a in answers if a in PHOTO_REQUIRED and a not in named_aspects) \
        if current_app.config["REQUIRE_PHOTO_PER_ASPECT"] else []
    if not missing and not row.unreadable and not without:
        return None
    received = sum(1 for n in names if n in row.received)
    facts = {"expected": len(names), "received": received, "missing": missing,
             "text": f"{received} of {len(names)} photos received", "text_zh": f"照片 {received}/{len(names)} 已到"}
    if row.unreadable:
        facts["unreadable"] = [{"file": n, "reason": r} for n, r in sorted(row.unreadable.items())]
    if without:
        facts["aspects_without_photo"] = without
    return facts


def _extra_flags(row, user, village, answers, problems):
    extra = {}
    if not code_in_scope(village.code, user) or not village.active:
        extra["village_out_of_scope"] = {"village": village.code, "village_name": village.name,
                                         "inspector_scope": user.scope_code, "village_active": village.active}
    if problems:
        extra["impossible_answer"] = {"aspects": problems}
    missing = _photos_missing(row, answers)
    if missing:
        extra["photos_missing"] = missing
    return extra


def _flag(inspection, lat, lon, photos, extra):
    """The standard flags (services/flags.py), then the OpenRosa ones; flag_count counts both."""
    apply_flags(inspection, lat, lon, photos)
    for code in FLAG_CODES:
        if code in extra:
            inspection.flags.append(InspectionFlag(code=code, facts=extra[code]))
    inspection.flag_count = len(inspection.flags)
    db.session.flush()


def _content(row, instance, answers, now):
    """(the JSON API's content dict for this instance, lat, lon); no geopoint: no location (the
    shared step then flags `no_location`)."""
    observed_at, device_observed_at = _times(instance, now)
    location, lat, lon = None, None, None
    if instance.location is not None:
        lat, lon, _, accuracy = instance.location
        location = {"lat": lat, "lon": lon, "accuracy_m": accuracy, "crs": "wgs84"}
    photos = {}
    for aspect, photo_id in ((a, row.received[n]) for a, n in row.files if n in row.received):
        ids = photos.setdefault(aspect, [])
        if photo_id not in ids:
            ids.append(photo_id)
    return {"client_uuid": client_uuid_for(row.instance_id), "village": row.village_code, "observed_at": observed_at,
            "device_observed_at": device_observed_at, "location": location,
            "answers": answers, "photos": photos, "notes": instance.notes}, lat, lon


def _create(row, user, instance, village, answers, problems):
    now = datetime.now(timezone.utc)
    data, lat, lon = _content(row, instance, answers, now)
    inspection = insert_inspection(data, village, lat, lon, user, source="openrosa")
    if inspection is None:
        raise DuplicateConflict("An inspection with this instanceID's UUID already exists.",
                                message_zh="已有相同编号（instanceID）的巡查记录。",
                                details={"client_uuid": str(data["client_uuid"])})
    photos = _photos(row)
    link_photos(inspection, photos)
    _flag(inspection, lat, lon, photos, _extra_flags(row, user, village, answers, problems))
    record_submission(inspection, photos, user, source="openrosa", instance_id=row.instance_id,
                      form_version=row.form_version)
    return inspection


def _resubmit(row, user, instance, village, answers, problems):
    """An edit (deprecatedID) of a returned inspection: its resubmission, version + 1."""
    _, inspection = _edit_target(instance, user)
    now = datetime.now(timezone.utc)
    data, lat, lon = _content(row, instance, answers, now)
    inspection.village_code, inspection.village = village.code, village
    _apply_content(inspection, data, lat, lon)
    inspection.photo_links.clear()
    db.session.flush()
    photos = _photos(row)
    _link_photos(inspection, photos)
    inspection.status = "submitted"
    inspection.version += 1
    inspection.submitted_at = now
    inspection.decided_at = inspection.decided_by_id = None
    db.session.flush()
    _flag(inspection, lat, lon, photos, _extra_flags(row, user, village, answers, problems))
    _record_version(inspection, photos)
    record_audit("inspection.resubmitted", "inspection", inspection.id, actor=user, division_code=village.code,
                 from_status="returned", to_status="submitted", version=inspection.version,
                 details={"flags": [f.code for f in inspection.flags], "source": "openrosa",
                          "instance_id": row.instance_id, "deprecated_id": row.deprecated_id})
    queue_inspection_event("inspection.submitted", inspection)
    db.session.flush()
    return inspection


def _add_late_photos(row, user, instance, village, answers, problems):
    """Review mode: photos that arrive after the inspection was made are linked to it (while it is
    still the version this instance made) and its flags recomputed."""
    inspection = _load_inspection(row.inspection_id, user)
    if inspection is None or inspection.version != row.inspection_version:
        return inspection
    point = inspection.location
    lat, lon = (None, None) if point is None else (point.y, point.x)
    # the content step's note that observed_at is the time of receipt, for the clock_skew facts
    inspection.observed_at_clamped = any(f.code == "clock_skew" and (f.facts or {}).get("observed_at") == "received_at"
                                         for f in inspection.flags)
    photos = _photos(row)
    inspection.photo_links.clear()
    db.session.flush()
    _link_photos(inspection, photos)
    db.session.flush()
    _flag(inspection, lat, lon, photos, _extra_flags(row, user, village, answers, problems))
    version_row = db.session.scalar(select(InspectionVersion).where(
        InspectionVersion.inspection_id == inspection.id, InspectionVersion.version == inspection.version))
    if version_row is not None:
        grouped = {}
        for aspect, photo in photos:
            grouped.setdefault(aspect, []).append(photo.id)
        version_row.photos = grouped
        version_row.flags = [{"code": f.code, "facts": f.facts} for f in inspection.flags]
    record_audit("inspection.photos_added", "inspection", inspection.id, actor=user, division_code=village.code,
                 version=inspection.version,
                 details={"instance_id": row.instance_id, "received": len(row.received),
                          "expected": len({n for _, n in row.files}), "flags": [f.code for f in inspection.flags]})
    db.session.flush()
    return inspection


def _materialize(row, user, instance, village, answers, problems, something_new):
    expected = len({n for _, n in row.files})
    complete = not row.waiting_for()
    wait = current_app.config["OPENROSA_MISSING_PHOTOS"] != "review"
    if row.inspection_id is None:
        if not complete and wait:
            row.complete = False
            db.session.flush()
            return Receipt("waiting", row, None, _count_received(row), expected)
        make = _resubmit if row.deprecated_id else _create
        inspection = make(row, user, instance, village, answers, problems)
        row.inspection_id, row.inspection_version = inspection.id, inspection.version
        outcome = "resubmitted" if row.deprecated_id else "created"
    elif something_new:
        inspection = _add_late_photos(row, user, instance, village, answers, problems)
        outcome = "photos_added"
    else:
        inspection = db.session.get(Inspection, row.inspection_id)
        outcome = "duplicate"
    row.complete = complete
    db.session.flush()
    return Receipt(outcome, row, inspection, _count_received(row), expected)


def _count_received(row):
    return sum(1 for n in dict.fromkeys(f for _, f in row.files) if n in row.received)


# --- reviewers: what is still waiting for photos -------------------------------------------------

def waiting_submissions_query(user):
    """select() of the submissions still waiting for photos (no inspection yet) that `user` may
    see: an inspector their own; reviewers and above those of villages in scope; oldest first."""
    condition = in_scope(OpenRosaSubmission.village_code, user)
    if not at_least(user, "reviewer"):
        condition = condition & (OpenRosaSubmission.user_id == user.id)
    return (select(OpenRosaSubmission)
            .where(OpenRosaSubmission.inspection_id.is_(None), condition)
            .order_by(OpenRosaSubmission.created_at, OpenRosaSubmission.id))


def describe_waiting(row):
    names = list(dict.fromkeys(f for _, f in row.files))
    received = _count_received(row)
    return {
        "instance_id": row.instance_id, "deprecated_id": row.deprecated_id,
        "village": {"code": row.village.code, "name": row.village.name, "township_code": row.village.parent_code},
        "inspector": row.user, "observed_at": row.observed_at,
        "received": received, "expected": len(names), "missing": row.waiting_for(),
        "text": f"{received} of {len(names)} photos received", "text_zh": f"照片 {received}/{len(names)} 已到",
        "first_received_at": row.created_at, "last_received_at": row.updated_at, "posts": row.posts,
    }

