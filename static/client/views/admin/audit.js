// The administrator's audit log screen (审计日志): the append-only log in scope, newest first, with
// filters (action, actor by username, division subtree, a date range in China time) and pages;
// each entry's details are written out as labelled lines, not a JSON dump.
import { api } from "../../api.js";
import { errorText, formatDateTime, lang, t } from "../../i18n.js";
import { announce, button, clear, field, h, spinner } from "../../ui.js";

const PER_PAGE = 20;
export const AUDIT_ACTIONS = [
  "inspection.submitted", "inspection.resubmitted", "inspection.approved", "inspection.rejected",
  "inspection.returned", "inspection.reopened", "inspection.commented",
  "inspection.flags_updated", "inspection.photos_added", "inspections.imported",
  "user.created", "user.updated", "user.disabled", "user.enabled", "user.password_reset", "user.password_changed",
  "device_key.created", "device_key.revoked", "target.set", "division.activated", "division.deactivated",
  "webhook_endpoint.created", "webhook_endpoint.updated", "webhook_endpoint.disabled", "webhook_endpoint.enabled",
  "webhook_endpoint.secret_rotated", "webhook_endpoint.deleted",
];

/** An action in words ("inspection.approved" → 审核通过), or the code itself when it has none. */
export function actionLabel(action) {
  const key = `audit_action_${action.replace(/\./g, "_")}`;
  const text = t(key);
  return text === key ? action : text;
}

function keyLabel(key) {
  const label = t(`audit_key_${key}`);
  return label === `audit_key_${key}` ? key : label;
}

/** Values that have words of their own: a role, the events of a webhook endpoint (null: all). */
const VALUE_WORDS = {
  role: (v) => (v ? t(`role_${v}`) : "—"),
  events: (v) => (v === null ? t("webhooks_all_events")
    : v.map((e) => { const k = `webhooks_event_${e.replace(/\./g, "_")}`; return t(k) === k ? e : t(k); }).join(lang() === "en" ? ", " : "、")),
};

function valueIn(key, value) {
  return VALUE_WORDS[key] && (value === null || typeof value === "string" || Array.isArray(value))
    ? VALUE_WORDS[key](value) : valueText(value);
}

/** One value in words: lists joined, objects as "key: value" pairs. */
function valueText(value) {
  if (value === null || value === undefined || value === "") return "—";
  if (typeof value === "boolean") return value ? t("audit_yes") : t("audit_no");
  if (Array.isArray(value)) return value.length ? value.map(valueText).join(lang() === "en" ? ", " : "、") : "—";
  if (typeof value === "object") return Object.entries(value).map(([k, v]) => `${keyLabel(k)}: ${valueText(v)}`).join("; ");
  return String(value);
}

/** The entry's details as a definition list: status, version, comment, then each detail; the
 *  `changes` of an update ({field: [before, after]}) as one "before → after" line per field. */
function detailsList(entry) {
  const rows = [];
  if (entry.from_status || entry.to_status) {
    const status = (s) => (s ? t(`status_${s}`) : "—");
    rows.push([t("audit_status"), `${status(entry.from_status)} → ${status(entry.to_status)}`]);
  }
  if (entry.version) rows.push([t("audit_version"), String(entry.version)]);
  if (entry.comment) rows.push([t("audit_comment"), entry.comment]);
  for (const [key, value] of Object.entries(entry.details || {})) {
    if (key === "changes" && value && typeof value === "object") {
      for (const [name, pair] of Object.entries(value)) {
        rows.push([keyLabel(name), Array.isArray(pair) && pair.length === 2
          ? `${valueIn(name, pair[0])} → ${valueIn(name, pair[1])}` : valueIn(name, pair)]);
      }
    } else {
      rows.push([keyLabel(key), valueIn(key, value)]);
    }
  }
  if (!rows.length) return h("span", { class: "muted" }, "—");
  return h("dl", { class: "audit-details" }, rows.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

function objectCell(entry) {
  const type = t(`audit_object_${entry.object_type}`);
  const label = type === `audit_object_${entry.object_type}` ? entry.object_type : type;
  if (entry.object_type === "inspection") {
    return h("a", { href: `#/inspection/${encodeURIComponent(entry.object_id)}` }, `${label} #${entry.object_id}`);
  }
  return `${label} #${entry.object_id}`;
}

/** A China-time calendar day (yyyy-mm-dd) as the ISO instant it starts, or the next day's start. */
function dayStart(day, nextDay = false) {
  if (!day) return "";
  const d = new Date(`${day}T00:00:00+08:00`);
  if (nextDay) d.setUTCDate(d.getUTCDate() + 1);
  return d.toISOString();
}

export async function renderAudit(main) {
  const state = { page: 1, action: "", actor: "", actorName: "", division: "", from: "", to: "" };
  const error = h("p", { class: "error", role: "alert", id: "audit-error", hidden: true });
  const list = h("div", { id: "audit-list" });
  function fail(err) { error.textContent = typeof err === "string" ? err : errorText(err); error.hidden = false; }

  const actions = h("datalist", { id: "audit-actions" },
    AUDIT_ACTIONS.map((a) => h("option", { value: a }, actionLabel(a))));
  const fAction = h("input", { name: "filter-action", list: "audit-actions", autocomplete: "off", autocapitalize: "none" });
  const fActor = h("input", { name: "filter-actor", autocomplete: "off", autocapitalize: "none" });
  const fDivision = h("input", { name: "filter-division", inputmode: "numeric", autocomplete: "off" });
  const fFrom = h("input", { name: "filter-from", type: "date" });
  const fTo = h("input", { name: "filter-to", type: "date" });
  const filters = h("form", { class: "card filters", id: "audit-filters" }, actions,
    field(t("audit_action"), fAction), field(t("audit_actor"), fActor, t("audit_actor_hint")),
    field(t("audit_division"), fDivision), field(t("audit_from"), fFrom), field(t("audit_to"), fTo),
    h("button", { type: "submit", class: "secondary" }, t("users_filter")));
  filters.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    const actorName = fActor.value.trim();
    let actor = "";
    if (actorName) {
      try {  // the API filters by user id: find the account with exactly this username
        const found = await api.get("/users", { q: actorName, per_page: 200 });
        const user = found.items.find((u) => u.username === actorName);
        if (!user) { fail(t("audit_no_such_user", { user: actorName })); return; }
        actor = user.id;
      } catch (err) { fail(err); return; }
    }
    Object.assign(state, { page: 1, action: fAction.value.trim(), actor, actorName, division: fDivision.value.trim(),
                           from: fFrom.value, to: fTo.value });
    load();
  });

  function row(entry) {
    return h("tr", { dataset: { id: entry.id, action: entry.action } },
      h("td", { class: "when" }, formatDateTime(entry.at)),
      h("td", { class: "action" }, h("strong", {}, actionLabel(entry.action)), h("div", { class: "small muted" }, entry.action)),
      h("td", {}, objectCell(entry)),
      h("td", {}, entry.division_code || "—"),
      h("td", {}, entry.actor ? (entry.actor.display_name || entry.actor.username) : t("audit_system"),
        entry.actor?.display_name ? h("div", { class: "small muted" }, entry.actor.username) : null),
      h("td", { class: "details" }, detailsList(entry)));
  }

  async function load() {
    clear(list, spinner());
    try {
      const data = await api.get("/audit", { page: state.page, per_page: PER_PAGE, action: state.action,
                                             actor: state.actor, division: state.division,
                                             from: dayStart(state.from), to: dayStart(state.to, true) });
      const pager = h("p", { class: "pager", id: "audit-pager" },
        state.page > 1 ? button(t("users_prev"), () => { state.page -= 1; load(); }, { class: "link", name: "prev" }) : null,
        h("span", { class: "page-of" }, t("audit_page", { page: data.page, pages: Math.max(1, data.pages), total: data.total })),
        state.page < data.pages ? button(t("users_next"), () => { state.page += 1; load(); }, { class: "link", name: "next" }) : null);
      clear(list, data.items.length ? h("div", { class: "table-wrap" }, h("table", { class: "rates audit", id: "audit-table" },
        h("thead", {}, h("tr", {}, [t("audit_at"), t("audit_action"), t("audit_object"), t("audit_division"),
                                     t("audit_actor"), t("audit_details")].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, data.items.map(row)))) : h("p", { class: "muted", id: "audit-empty" }, t("audit_empty")), pager);
    } catch (err) {
      clear(list);
      fail(err);
    }
  }

  main.append(h("h1", {}, t("nav_audit")), error, filters, list);
  announce("");
  await load();
}
