// Targets: the year's defaults and the stricter county / township overrides, with who set each and
// when, and what applies to the user's scope. Administrators edit them (PUT /targets); the API's
// validation errors are shown under their fields. Bureau users see the same screen read-only.
import { api } from "../../api.js";
import { errorText, formatDateTime, lang, percent, t } from "../../i18n.js";
import { announce, clear, field, h, spinner } from "../../ui.js";

const METRICS = ["garbage_stable", "sewage_treated", "village_clean", "tap_water"];
const FORM_FIELDS = ["metric", "year", "value", "division_code"];

function sourceText(source, stored) {
  const [kind, key] = source.split(":");
  if (kind === "division") {
    const row = stored.find((r) => r.division_code === key);
    return t("targets_source_division", { name: row?.division_name || key });
  }
  if (kind === "year") return t("targets_source_year", { year: key });
  return t("targets_source_plan");
}

export async function renderTargets(main, { me }) {
  const editable = me.role === "admin";
  const thisYear = Number(new Date().toLocaleString("en-GB", { timeZone: "Asia/Shanghai", year: "numeric" }));
  const state = { year: thisYear };
  const message = h("p", { class: "notice", role: "status", id: "targets-message", hidden: true });
  const error = h("p", { class: "error", role: "alert", id: "targets-error", hidden: true });
  const view = h("div", { id: "targets-view" });

  const yearInput = h("input", { name: "year", type: "number", min: 2000, max: 2100, value: state.year, inputmode: "numeric" });
  const yearForm = h("form", { class: "card filters", id: "targets-year" }, field(t("targets_year"), yearInput),
    h("button", { type: "submit", class: "secondary" }, t("targets_show")));
  yearForm.addEventListener("submit", (event) => {
    event.preventDefault();
    state.year = Number(yearInput.value) || thisYear;
    load();
  });

  // the edit form (administrators)
  const fMetric = h("select", { name: "metric" }, METRICS.map((m) => h("option", { value: m }, t(`metric_${m}`))));
  const fDivision = h("input", { name: "division_code", inputmode: "numeric", maxlength: 12, autocomplete: "off" });
  const fValue = h("input", { name: "value", type: "number", step: "0.1", inputmode: "decimal", required: true });
  const fieldErrors = Object.fromEntries(FORM_FIELDS.map((name) =>
    [name, h("small", { class: "error field-error", id: `target-${name}-error`, role: "alert", hidden: true })]));
  const withError = (wrapper, name) => { wrapper.append(fieldErrors[name]); return wrapper; };
  const editForm = h("form", { class: "card", id: "targets-form" }, h("h2", {}, t("targets_edit")),
    withError(field(t("targets_metric"), fMetric), "metric"),
    withError(field(t("targets_division"), fDivision, t("targets_division_hint")), "division_code"),
    withError(field(t("targets_value"), fValue, t("targets_value_hint")), "value"),
    fieldErrors.year,
    h("button", { type: "submit", class: "primary", name: "save" }, t("targets_save")));

  function clearErrors() {
    for (const el of Object.values(fieldErrors)) { el.hidden = true; el.textContent = ""; }
    error.hidden = true;
  }

  function showFieldErrors(err) {
    const perField = (lang() !== "en" && err.fields_zh) || err.fields || {};
    let shown = false;
    for (const [name, messages] of Object.entries(perField)) {
      const el = fieldErrors[name];
      if (!el) continue;
      el.textContent = [].concat(messages).join(" ");
      el.hidden = false;
      shown = true;
    }
    error.textContent = shown ? (lang() !== "en" ? err.message_zh || err.message : err.message) : errorText(err);
    error.hidden = false;
    message.hidden = true;
  }

  editForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors();
    const raw = fValue.value.trim();
    const body = { metric: fMetric.value, year: state.year, value: raw === "" ? null : Number(raw) / 100,
                   division_code: fDivision.value.trim() || null };
    try {
      const row = await api.put("/targets", body);
      const where = row.division_code ? (row.division_name || row.division_code) : t("targets_default");
      message.textContent = t("targets_saved", { metric: t(`metric_${row.metric}`), where, value: percent(row.value) });
      message.hidden = false;
      announce(message.textContent, "ok");
      await load();
    } catch (err) {
      showFieldErrors(err);
    }
  });

  function edit(row) {
    fMetric.value = row.metric;
    fDivision.value = row.division_code || "";
    fValue.value = String(Math.round(row.value * 1000) / 10);
    clearErrors();
    fValue.focus();
  }

  function storedTable(stored) {
    if (!stored.length) return h("p", { class: "muted", id: "targets-stored" }, t("targets_none_stored"));
    return h("div", { class: "table-wrap" }, h("table", { class: "rates", id: "targets-stored" },
      h("caption", {}, t("targets_stored")),
      h("thead", {}, h("tr", {}, [t("targets_metric"), t("targets_applies_to"), t("targets_value_col"), t("targets_set_by"),
                                   t("targets_set_at"), ""].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, stored.map((r) => h("tr", { dataset: { metric: r.metric, division: r.division_code } },
        h("td", {}, t(`metric_${r.metric}`)),
        h("td", {}, r.division_code ? `${r.division_name || ""} ${r.division_code}` : t("targets_default")),
        h("td", { class: "num" }, percent(r.value)),
        h("td", { class: "set-by" }, r.set_by ? (r.set_by.display_name || r.set_by.username) : "—"),
        h("td", { class: "set-at" }, formatDateTime(r.set_at)),
        h("td", {}, editable ? h("button", { type: "button", class: "link", onclick: () => edit(r) }, t("targets_change")) : null))))));
  }

  async function load() {
    clear(view, spinner());
    try {
      const data = await api.get("/targets", { year: state.year });
      clear(view,
        h("div", { class: "table-wrap" }, h("table", { class: "rates", id: "targets-effective" },
          h("caption", {}, t("targets_effective", { name: data.division.name, year: data.year })),
          h("thead", {}, h("tr", {}, [t("targets_metric"), t("targets_value_col"), t("targets_source"), t("targets_plan")]
            .map((c) => h("th", { scope: "col" }, c)))),
          h("tbody", {}, data.effective.map((e) => h("tr", { dataset: { metric: e.metric } },
            h("td", {}, t(`metric_${e.metric}`)), h("td", { class: "num" }, percent(e.value)),
            h("td", {}, sourceText(e.source, data.stored)), h("td", { class: "num" }, percent(data.plan_defaults[e.metric]))))))),
        storedTable(data.stored));
    } catch (err) {
      clear(view);
      error.textContent = errorText(err);
      error.hidden = false;
    }
  }

  main.append(h("h1", {}, t("nav_targets")), h("p", { class: "small" }, t(editable ? "targets_explain" : "targets_read_only")),
    message, error, yearForm, view, editable ? editForm : null);
  await load();
}
