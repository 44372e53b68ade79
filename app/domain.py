"""The domain's rules as data, below every other layer (no database, no Flask): the inspection
checklist, flag codes, queue orders, and the shapes and limits of the values the API accepts.

The checklist: aspects, their items, and what makes each metric met. This is the single definition. Request validation (schemas/inspections.py), the ODK form, the metrics stored
on an inspection (`derive_metrics`) and `GET /api/v1/checklist` (what the bureau reads) are all
made from it; changing a rule here changes all three.

Rules (`met`):
- `all_true`: every listed boolean item is true;
- `one_of`: the item's value is one of `values`;
- `share_at_least`: numerator / denominator >= value (a zero denominator is not met).
"""

CHECKLIST_VERSION = 1

CHECKLIST = [
    {
        "aspect": "garbage",
        "metric": "garbage_stable",
        "title": "Garbage collection and transfer",
        "title_zh": "农村生活垃圾收转运",
        "indicator_zh": "农村生活垃圾收转运体系稳定运行率",
        "items": [
            {"key": "collection_points", "type": "boolean",
             "label": "Collection points are in place and in use", "label_zh": "垃圾收集点设置到位、正常使用"},
            {"key": "collected_on_schedule", "type": "boolean",
             "label": "Garbage is collected on schedule", "label_zh": "垃圾按时清运"},
            {"key": "transfer_working", "type": "boolean",
             "label": "Transfer to the township/county works", "label_zh": "转运设施运转正常"},
            {"key": "no_informal_dumping", "type": "boolean",
             "label": "No informal dumping", "label_zh": "无乱堆乱倒"},
        ],
        "met": {"rule": "all_true",
                "items": ["collection_points", "collected_on_schedule", "transfer_working", "no_informal_dumping"]},
        "met_text": "met when all four items are true",
        "met_text_zh": "四项均为“是”即达标",
    },
    {
        "aspect": "sewage",
        "metric": "sewage_treated",
        "title": "Domestic sewage treatment",
        "title_zh": "农村生活污水治理",
        "indicator_zh": "生活污水治理率",
        "items": [
            {"key": "mode", "type": "choice", "label": "Treatment mode", "label_zh": "治理模式",
             "choices": [
                 {"value": "town_network", "label": "Connected to the town sewer network", "label_zh": "纳入城镇污水管网"},
                 {"value": "village_plant", "label": "Village treatment plant", "label_zh": "村级污水处理站"},
                 {"value": "small_facility", "label": "Small decentralised facility", "label_zh": "分散式小型处理设施"},
                 {"value": "sanitary_toilets_reuse", "label": "Sanitary toilets with resource reuse",
                  "label_zh": "卫生厕所改造与资源化利用"},
                 {"value": "none", "label": "No treatment", "label_zh": "未治理"},
             ]},
            {"key": "households_covered", "type": "integer", "required": False, "min": 0,
             "label": "Households covered", "label_zh": "覆盖户数", "column": "sewage_households_covered"},
        ],
        "met": {"rule": "one_of", "item": "mode",
                "values": ["town_network", "village_plant", "small_facility", "sanitary_toilets_reuse"]},
        "met_text": "met when a treatment mode other than 'none' is in place",
        "met_text_zh": "采用任一治理模式（非“未治理”）即达标",
    },
    {
        "aspect": "cleanliness",
        "metric": "village_clean",
        "title": "Village clean, tidy and orderly (村庄清洁行动)",
        "title_zh": "村庄干净整洁有序",
        "indicator_zh": "村庄干净整洁有序",
        "items": [
            {"key": "no_garbage_piles", "type": "boolean",
             "label": "No garbage piles", "label_zh": "清理农村生活垃圾，无垃圾堆放"},
            {"key": "ponds_ditches_clean", "type": "boolean",
             "label": "Ponds and ditches are clean", "label_zh": "清理村内塘沟"},
            {"key": "manure_handled", "type": "boolean",
             "label": "Livestock manure is handled", "label_zh": "清理畜禽养殖粪污等农业生产废弃物"},
            {"key": "public_spaces_orderly", "type": "boolean",
             "label": "Public spaces are orderly", "label_zh": "公共空间整洁有序"},
        ],
        "met": {"rule": "all_true",
                "items": ["no_garbage_piles", "ponds_ditches_clean", "manure_handled", "public_spaces_orderly"]},
        "met_text": "met when all four items are true",
        "met_text_zh": "四项均为“是”即达标",
    },
    {
        "aspect": "tap_water",
        "metric": "tap_water",
        "title": "Tap water in households",
        "title_zh": "自来水入户",
        "indicator_zh": "自来水入户率",
        "optional": True,
        "photo_required": False,  # a household count: nothing to photograph
        "items": [
            {"key": "households", "type": "integer", "min": 1,
             "label": "Households in the village", "label_zh": "总户数", "column": "tap_households"},
            {"key": "households_with_tap", "type": "integer", "min": 0, "max_item": "households",
             "label": "Households with tap water", "label_zh": "自来水入户户数", "column": "tap_households_with_tap"},
        ],
        "met": {"rule": "share_at_least", "numerator": "households_with_tap", "denominator": "households",
                "value": 0.98},
        "met_text": "met when at least 98 % of households have tap water (rates weight by households)",
        "met_text_zh": "自来水入户率不低于 98% 即达标（汇总时按户数加权）",
    },
]

BY_ASPECT = {a["aspect"]: a for a in CHECKLIST}
ASPECT_KEYS = tuple(BY_ASPECT)
METRIC_OF = {a["aspect"]: a["metric"] for a in CHECKLIST}
PHOTO_REQUIRED = {a["aspect"] for a in CHECKLIST if a.get("photo_required", True)}
COLUMN_ITEMS = [(a["aspect"], i["key"], i["column"]) for a in CHECKLIST for i in a["items"] if i.get("column")]


def is_met(aspect, answer):
    """Whether `answer` (the validated items of one aspect) meets the aspect's metric."""
    rule = BY_ASPECT[aspect]["met"]
    if rule["rule"] == "all_true":
        return all(answer.get(item) is True for item in rule["items"])
    if rule["rule"] == "one_of":
        return answer.get(rule["item"]) in rule["values"]
    if rule["rule"] == "share_at_least":
        numerator, denominator = answer.get(rule["numerator"]), answer.get(rule["denominator"])
        return bool(denominator) and numerator is not None and numerator / denominator >= rule["value"]
    raise ValueError(f"unknown rule {rule['rule']!r}")


def derive_metrics(answers):
    """Inspection column values from the answers: each metric (None when its aspect is not
    answered) and the household counts the rates weight by."""
    values = {metric: (is_met(aspect, answers[aspect]) if aspect in answers else None)
              for aspect, metric in METRIC_OF.items()}
    for aspect, item, column in COLUMN_ITEMS:
        values[column] = (answers.get(aspect) or {}).get(item)
    values["households"] = values.get("tap_households")
    return values


def metrics_of(inspection):
    """{metric: True/False/None} of a stored inspection."""
    return {metric: getattr(inspection, metric) for metric in METRIC_OF.values()}


def checklist_document():
    """What `GET /api/v1/checklist` serves."""
    return {"version": CHECKLIST_VERSION, "aspects": CHECKLIST}


def full_answers():
    """Answers to every aspect that meet every metric (DESIGN §5.1's example): what the demo, the
    benchmarks and the tests start from. A new dict each call."""
    answers = {a["aspect"]: {item: True for item in a["met"]["items"]}
               for a in CHECKLIST if a["met"]["rule"] == "all_true"}
    answers["sewage"] = {"mode": "village_plant", "households_covered": 120}
    answers["tap_water"] = {"households": 130, "households_with_tap": 128}
    return {a["aspect"]: answers[a["aspect"]] for a in CHECKLIST}


# --- flags (DESIGN §3): computed at submission, they inform the reviewer and never reject ------

FLAG_CODES = ("outside_village", "exif_location_far", "photo_stale", "photo_reused", "low_accuracy", "no_exif",
              # OpenRosa (ODK Collect): what the JSON API refuses but a finalized form on a phone cannot
              # fix is stored and flagged for the reviewer (README, OpenRosa section)
              "village_out_of_scope", "impossible_answer", "photos_missing", "clock_skew",
              # the web client: no GPS (the village chosen by hand)
              "no_location")

# --- photos ---------------------------------------------------------------------------------

PHOTO_VARIANTS = ("thumb", "display", "original")  # ~320 px, ~1600 px, the uploaded bytes


def photo_urls(photo_id):
    """The API addresses of a photo's variants (scope-checked when fetched)."""
    return {variant: f"/api/v1/photos/{photo_id}/{variant}" for variant in PHOTO_VARIANTS}


# --- the review queue -------------------------------------------------------------------------

QUEUE_ORDERS = ("oldest", "flagged", "village", "inspector")
MAX_BULK = 500  # inspections decided by one bulk review

# --- values the API accepts -------------------------------------------------------------------

DIVISION_CODE_PATTERN = r"^\d{2,12}$"  # any level: a subtree is a code prefix
VILLAGE_CODE_PATTERN = r"^\d{12}$"
PERIOD_PATTERN = r"^(\d{4})(?:-Q([1-4])|-(0[1-9]|1[0-2]))?$"  # 2026, 2026-Q3, 2026-09 (China time)
YEAR_MIN, YEAR_MAX = 2000, 2100  # the years rates, targets and dates reason about
MAX_COMMENT_CHARS = 2000  # review comments, reopen reasons, comment threads
MAX_NOTES_CHARS = 4000
