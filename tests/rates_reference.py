"""A plain-Python reading of DESIGN §4, written apart from the SQL in app/services/rates.py.

It takes plain lists (divisions and inspections as dicts, read from the database) and computes the
rates by walking them one by one — slow, obvious, and independent of the production code, so the
tests can compare every field of the API answer with it.
"""
from datetime import datetime, timedelta, timezone
from fractions import Fraction
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
PREFIX = {"province": 2, "city": 4, "county": 6, "township": 9, "village": 12}
ORDER = ["province", "city", "county", "township", "village"]
PLAN = {"garbage_stable": 1.0, "sewage_treated": 0.45, "village_clean": 0.95, "tap_water": 0.98}
METRICS = ["garbage_stable", "sewage_treated", "village_clean", "tap_water"]


def period_end(key):
    """The first instant after the period, China time."""
    year = int(key[:4])
    if len(key) == 4:
        return datetime(year + 1, 1, 1, tzinfo=SHANGHAI)
    if key[5] == "Q":
        last_month = int(key[6]) * 3
    else:
        last_month = int(key[5:7])
    if last_month == 12:
        return datetime(year + 1, 1, 1, tzinfo=SHANGHAI)
    return datetime(year, last_month + 1, 1, tzinfo=SHANGHAI)


def utc_iso(moment):
    """An observation time as the API gives it: ISO 8601 in UTC."""
    return moment.astimezone(timezone.utc).isoformat()


def village_statuses(inspections, village, end, validity_days):
    """{metric: (value or None, inspection id or None, inspection)} for one village."""
    start = end - timedelta(days=validity_days)
    out = {}
    for metric in METRICS:
        best = None
        for insp in inspections:
            if insp["village_code"] != village or insp["status"] != "approved":
                continue
            if insp[metric] is None:
                continue
            if not (start <= insp["observed_at"] < end):
                continue
            if best is None or (insp["observed_at"], insp["id"]) > (best["observed_at"], best["id"]):
                best = insp
        out[metric] = (None if best is None else bool(best[metric]), None if best is None else best["id"], best)
    return out


def target_for(targets, metric, year, code):
    """targets: list of dicts {metric, year, division_code, value}."""
    best = None
    for t in targets:
        if t["metric"] != metric or t["year"] != year or not t["division_code"]:
            continue
        if code.startswith(t["division_code"]) and (best is None or len(t["division_code"]) > len(best["division_code"])):
            best = t
    if best is not None:
        return best["value"]
    for t in targets:
        if t["metric"] == metric and t["year"] == year and t["division_code"] == "":
            return t["value"]
    return PLAN[metric]


def ceil_fraction(value):
    return -((-value.numerator) // value.denominator)


def rounded(part, whole):
    return None if whole == 0 else round(part / whole, 4)


def summarise(code, name, level, villages, statuses, targets, year):
    """The row for one division given its counted villages."""
    population = len(villages)
    metrics = {}
    for metric in METRICS:
        met = sum(1 for v in villages if statuses[v["code"]][metric][0] is True)
        not_met = sum(1 for v in villages if statuses[v["code"]][metric][0] is False)
        target = target_for(targets, metric, year, code)
        block = {"met": met, "not_met": not_met, "unknown": population - met - not_met,
                 "coverage": rounded(met + not_met, population), "target": target}
        if metric == "tap_water":
            households = with_tap = 0
            for v in villages:
                insp = statuses[v["code"]][metric][2]
                if insp is not None and insp["tap_households"] is not None and insp["tap_households_with_tap"] is not None:
                    households += insp["tap_households"]
                    with_tap += insp["tap_households_with_tap"]
            need = ceil_fraction(Fraction(str(target)) * households)
            block.update(basis="households", rate=rounded(with_tap, households), households=households,
                         households_met=with_tap, gap=max(0, need - with_tap) if households else 0,
                         on_target=None if not households else with_tap >= need)
        else:
            need = ceil_fraction(Fraction(str(target)) * population)
            block.update(basis="villages", rate=rounded(met, population),
                         gap=max(0, need - met) if population else 0,
                         on_target=None if not population else met >= need)
            if metric == "sewage_treated":
                known = sum(v["households"] for v in villages if v["households"] is not None)
                hh_met = sum(v["households"] for v in villages
                             if v["households"] is not None and statuses[v["code"]][metric][0] is True)
                block["households"] = {"known": known, "met": hh_met, "rate": rounded(hh_met, known)}
        metrics[metric] = block
    return {"code": code, "name": name, "level": level, "population": population, "metrics": metrics}


def reference_rates(divisions, inspections, targets, division_code, period, level, validity_days=365,
                    counted_kinds=("rural",)):
    """The expected answer (without as_of/definition/target_source) for one rates request."""
    end = period_end(period)
    year = int(period[:4])
    by_code = {d["code"]: d for d in divisions}
    in_subtree = [d for d in divisions if d["code"].startswith(division_code)]
    villages = [d for d in in_subtree if d["level"] == "village" and d["active"]]
    statuses = {v["code"]: village_statuses(inspections, v["code"], end, validity_days) for v in villages}
    counted = [v for v in villages if v["kind"] in counted_kinds]
    top = by_code[division_code]
    result = {"division": summarise(top["code"], top["name"], top["level"], counted, statuses, targets, year),
              "period": period, "level": level, "rows": []}
    if level == "village":
        for v in sorted(villages, key=lambda d: d["code"]):
            metrics = {}
            for metric in METRICS:
                value, insp_id, insp = statuses[v["code"]][metric]
                metrics[metric] = {"status": "unknown" if value is None else ("met" if value else "not_met"),
                                   "inspection_id": insp_id, "observed_at": None if insp is None else utc_iso(insp["observed_at"])}
                if metric == "tap_water":
                    metrics[metric]["households"] = None if insp is None else insp["tap_households"]
                    metrics[metric]["households_with_tap"] = None if insp is None else insp["tap_households_with_tap"]
            result["rows"].append({"code": v["code"], "name": v["name"], "level": "village", "kind": v["kind"],
                                   "counted": v["kind"] in counted_kinds, "households": v["households"],
                                   "metrics": metrics})
        return result
    for d in sorted((d for d in in_subtree if d["level"] == level), key=lambda d: d["code"]):
        mine = [v for v in counted if v["code"].startswith(d["code"])]
        result["rows"].append(summarise(d["code"], d["name"], d["level"], mine, statuses, targets, year))
    return result
