"""The ODK form (XForm), generated with pyxform from the one checklist (app/domain.py CHECKLIST),
and its publication: one version per scope and input, kept forever.

The survey is described as XLSForm rows (the data pyxform reads from a spreadsheet) and converted
by pyxform, which validates it (names, references, choices, settings) on the way:

- Chinese labels first (the default language), English as a translation;
- `village`: the villages of the inspector's scope, as choices inside the form, or, above
  OPENROSA_INLINE_VILLAGES_MAX villages, as the media file `villages.csv` (searchable list);
- `location`: a geopoint (required);
- one group per aspect with its items (booleans as 是/否, the sewage mode as a choice, integer
  counts with the checklist's bounds as constraints); an optional aspect (tap water) is asked
  first ("填写此项？"); every aspect that needs a photo has a repeat of one image question
  (several photos, `max-pixels` 2048);
- `notes`, and the `start`, `end`, `deviceid` metadata; `meta/instanceID` is filled by the phone;
- `client_editable`, so Collect 2025.2+ can edit a sent form (an edit arrives with a new
  instanceID and `meta/deprecatedID`).

Versions: everything the form is generated from (rows, choices, settings but the version, media,
pyxform's version) is hashed into `input_digest`. The same digest for the same scope is the same
stored row, with the same bytes and version; anything else publishes a new row. So the version and
the `md5:` hash of the served bytes change exactly when the bytes change, and every version ever
served can still be downloaded.
"""
import csv
import hashlib
import io
import json
from importlib.metadata import version as package_version

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.domain import CHECKLIST, CHECKLIST_VERSION
from app.extensions import db
from app.models import Division, XFormVersion, subtree

FORM_ID = "rural_inspection"
FORM_TITLE = "农村人居环境巡查"
GENERATOR_REVISION = "1"  # bump when the rows below change shape
ZH, EN = "中文 (zh)", "English (en)"
LABEL_ZH, LABEL_EN = f"label::{ZH}", f"label::{EN}"
HINT_ZH, HINT_EN = f"hint::{ZH}", f"hint::{EN}"
MESSAGE_ZH, MESSAGE_EN = f"constraint_message::{ZH}", f"constraint_message::{EN}"
MAX_PIXELS = 2048
MAX_COUNT = 10_000_000  # the JSON schema's upper bound for counts
VILLAGES_CSV = "villages.csv"
INLINE_LIST = "village_list"
YES_NO = "yes_no"


def _label(zh, en):
    return {LABEL_ZH: zh, LABEL_EN: en}


def answered_name(aspect):
    """The "answer this aspect?" question of an optional aspect."""
    return f"{aspect}_answered"


def photos_name(aspect):
    return f"{aspect}_photos"


def photo_name(aspect):
    return f"{aspect}_photo"


def choice_list(aspect, item):
    return f"{aspect}_{item}"


def _item_row(aspect, item):
    row = {"name": item["key"], **_label(item["label_zh"], item["label"])}
    if item.get("required", True):
        row["required"] = "yes"
    if item["type"] == "boolean":
        row["type"] = f"select_one {YES_NO}"
    elif item["type"] == "choice":
        row["type"] = f"select_one {choice_list(aspect['aspect'], item['key'])}"
    elif item["type"] == "integer":
        row["type"] = "integer"
        low = item.get("min", 0)
        parts, zh, en = [f". >= {low}", f". <= {MAX_COUNT}"], [f"不能小于 {low}"], [f"at least {low}"]
        if item.get("max_item"):
            parts.append(f". <= ${{{item['max_item']}}}")
            bound = next(i for i in aspect["items"] if i["key"] == item["max_item"])
            zh.append(f"不能超过“{bound['label_zh']}”")
            en.append(f"at most '{bound['label']}'")
        row.update(constraint=" and ".join(parts), **{MESSAGE_ZH: "，".join(zh), MESSAGE_EN: "; ".join(en)})
    else:
        raise ValueError(f"unknown item type {item['type']!r}")
    return row


def survey_rows(village_question):
    """The XLSForm `survey` rows: metadata, village, location, one group per aspect, notes."""
    rows = [{"type": "start", "name": "start"}, {"type": "end", "name": "end"},
            {"type": "deviceid", "name": "deviceid"}, village_question,
            {"type": "geopoint", "name": "location", "required": "yes",
             **_label("巡查位置（GPS）", "Location (GPS)"),
             HINT_ZH: "在村内等待定位精度达到 10 米左右再保存。", HINT_EN: "Wait in the village for an accuracy of about 10 m."}]
    for aspect in CHECKLIST:
        name = aspect["aspect"]
        relevant = None
        if aspect.get("optional"):
            rows.append({"type": f"select_one {YES_NO}", "name": answered_name(name), "required": "yes",
                         **_label(f"是否填写“{aspect['title_zh']}”？", f"Answer '{aspect['title']}'?")})
            relevant = f"${{{answered_name(name)}}} = 'yes'"
        group = {"type": "begin_group", "name": name, **_label(aspect["title_zh"], aspect["title"])}
        if relevant:
            group["relevant"] = relevant
        rows.append(group)
        rows.extend(_item_row(aspect, item) for item in aspect["items"])
        if aspect.get("photo_required", True):
            rows.append({"type": "begin_repeat", "name": photos_name(name),
                         **_label(f"{aspect['title_zh']}照片", f"{aspect['title']}: photos")})
            rows.append({"type": "image", "name": photo_name(name), "required": "yes",
                         "parameters": f"max-pixels={MAX_PIXELS}", **_label("拍照", "Take a photo"),
                         HINT_ZH: "可添加多张照片。", HINT_EN: "You may add several photos."})
            rows.append({"type": "end_repeat"})
        rows.append({"type": "end_group"})
    rows.append({"type": "text", "name": "notes", "appearance": "multiline", **_label("备注", "Notes")})
    return rows


def choice_rows(villages_inline):
    rows = [{"list_name": YES_NO, "name": "yes", **_label("是", "Yes")},
            {"list_name": YES_NO, "name": "no", **_label("否", "No")}]
    for aspect in CHECKLIST:
        for item in aspect["items"]:
            for choice in item.get("choices", ()):
                rows.append({"list_name": choice_list(aspect["aspect"], item["key"]), "name": choice["value"],
                             **_label(choice["label_zh"], choice["label"])})
    for code, name in villages_inline or ():
        rows.append({"list_name": INLINE_LIST, "name": code, **_label(name, name)})
    return rows


def scope_villages(scope_code):
    """[(code, name)] of the active villages in the scope, by code."""
    return db.session.execute(
        select(Division.code, Division.name)
        .where(subtree(Division.code, scope_code), Division.level == "village", Division.active.is_(True))
        .order_by(Division.code)
    ).all()


def villages_csv(villages):
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["name", "label"])
    writer.writerows((code, f"{name}（{code}）") for code, name in villages)
    return out.getvalue()


def form_source(scope_code):
    """(xlsform dict without version, media {filename: text}) for a scope; None for a scope without
    villages (nothing to inspect: no form)."""
    villages = [tuple(v) for v in scope_villages(scope_code)]
    if not villages:
        return None, {}
    label = _label("村（社区）", "Village")
    media = {}
    if len(villages) > current_app.config["OPENROSA_INLINE_VILLAGES_MAX"]:
        question = {"type": f"select_one_from_file {VILLAGES_CSV}", "name": "village", "required": "yes",
                    "appearance": "autocomplete", **label}
        media[VILLAGES_CSV] = villages_csv(villages)
        inline = None
    else:
        question = {"type": f"select_one {INLINE_LIST}", "name": "village", "required": "yes", **label}
        if len(villages) > 12:
            question["appearance"] = "autocomplete"
        inline = villages
    settings = {"form_title": FORM_TITLE, "form_id": FORM_ID, "default_language": ZH, "client_editable": "yes"}
    return {"survey": survey_rows(question), "choices": choice_rows(inline), "settings": [settings]}, media


def convert(xlsform, version):
    """The XForm text for the rows with `version` set (pyxform validates while converting)."""
    from pyxform.xls2xform import convert as pyxform_convert

    source = {**xlsform, "settings": [{**xlsform["settings"][0], "version": version}]}
    warnings = []
    result = pyxform_convert(source, warnings=warnings, validate=False, pretty_print=True)
    return result.xform


def _digest(xlsform, media):
    payload = {"xlsform": xlsform, "media": media, "checklist_version": CHECKLIST_VERSION,
               "generator": GENERATOR_REVISION, "pyxform": package_version("pyxform")}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def md5_hex(data):
    return hashlib.md5(data if isinstance(data, bytes) else data.encode()).hexdigest()


def _find(scope_code, digest):
    return db.session.scalar(select(XFormVersion).where(XFormVersion.scope_code == scope_code,
                                                        XFormVersion.input_digest == digest))


def published_form(scope_code):
    """The XFormVersion to serve for a scope: the stored one for the current inputs, or a new
    version published now (flushes); None for a scope without villages. Two requests publishing at
    once: the unique (scope, digest) lets one row exist; the other reads it."""
    xlsform, media = form_source(scope_code)
    if xlsform is None:
        return None
    digest = _digest(xlsform, media)
    row = _find(scope_code, digest)
    if row is not None:
        return row
    if db.session.get_bind().dialect.name == "sqlite":
        # this may be a GET (a deferred, read-only transaction on SQLite): end the read so that the
        # insert below starts a transaction of its own instead of upgrading a stale snapshot
        db.session.rollback()
    placeholder = f"p{scope_code}-{digest[:18]}"  # unique until the row has its id
    row = XFormVersion(form_id=FORM_ID, version=placeholder, scope_code=scope_code, input_digest=digest,
                       xml="", md5="", media={name: {"md5": md5_hex(text), "content": text} for name, text in media.items()})
    try:
        with db.session.begin_nested():
            db.session.add(row)
            db.session.flush()
    except IntegrityError:
        existing = _find(scope_code, digest)
        if existing is None:
            raise
        return existing
    row.version = f"{CHECKLIST_VERSION}.{row.id}"
    row.xml = convert(xlsform, row.version)
    row.md5 = md5_hex(row.xml)
    db.session.flush()
    return row


def form_version(form_id, version):
    """A stored form version by id and version (any version ever served), or None."""
    return db.session.scalar(select(XFormVersion).where(XFormVersion.form_id == form_id,
                                                        XFormVersion.version == version))
