// The administrator's divisions: the divisions in scope, searchable by name or code, level and state,
// with kind and active; a division marked inactive (with every division below it) leaves the rates,
// "which village am I in?", the villages due and the ODK village list, and can be made active again.
import { api, request } from "../../api.js";
import { errorText, t } from "../../i18n.js";
import { announce, button, clear, confirmDialog, field, h, spinner } from "../../ui.js";

const LEVELS = ["city", "county", "township", "village"];
const PER_PAGE = 50;

export async function renderDivisions(main) {
  const state = { page: 1, q: "", level: "", active: "" };
  const message = h("p", { class: "notice", role: "status", id: "divisions-message", hidden: true });
  const error = h("p", { class: "error", role: "alert", id: "divisions-error", hidden: true });
  const list = h("div", { id: "divisions-list" });

  function say(text) { message.textContent = text; message.hidden = !text; error.hidden = true; announce(text, "ok"); }
  function fail(err) { error.textContent = errorText(err); error.hidden = false; message.hidden = true; }

  const fQ = h("input", { name: "filter-q", type: "search", maxlength: 50 });
  const fLevel = h("select", { name: "filter-level" }, h("option", { value: "" }, t("users_all")),
    LEVELS.map((level) => h("option", { value: level }, t(`level_${level}`))));
  const fActive = h("select", { name: "filter-active" }, h("option", { value: "" }, t("users_all")),
    h("option", { value: "true" }, t("divisions_active")), h("option", { value: "false" }, t("divisions_inactive")));
  const filters = h("form", { class: "card filters", id: "divisions-filters" },
    field(t("divisions_search"), fQ), field(t("divisions_level"), fLevel), field(t("users_state"), fActive),
    h("button", { type: "submit", class: "secondary" }, t("users_filter")));
  filters.addEventListener("submit", (event) => {
    event.preventDefault();
    Object.assign(state, { page: 1, q: fQ.value.trim(), level: fLevel.value, active: fActive.value });
    load();
  });

  async function setActive(division, active) {
    if (!active) {
      const ok = await confirmDialog(t(division.level === "village" ? "divisions_deactivate_confirm_village"
                                                                    : "divisions_deactivate_confirm", { name: division.name }),
                                     { confirm: t("divisions_deactivate"), danger: true });
      if (!ok) return;
    }
    try {
      const answer = await request("PATCH", `/divisions/${encodeURIComponent(division.code)}`, { json: { active } });
      say(t(active ? "divisions_activated" : "divisions_deactivated", { name: division.name, n: answer.changed }));
      await load();
    } catch (err) { fail(err); }
  }

  function row(d) {
    return h("tr", { dataset: { code: d.code }, class: d.active ? "" : "disabled" },
      h("td", {}, d.code), h("td", {}, d.name), h("td", {}, t(`level_${d.level}`)),
      h("td", {}, d.kind ? t(`divisions_kind_${d.kind}`) : ""),
      h("td", { class: "state" }, d.active ? t("divisions_active") : t("divisions_inactive")),
      h("td", { class: "actions" }, d.active
        ? button(t("divisions_deactivate"), () => setActive(d, false), { class: "bad-button small", name: "deactivate" })
        : button(t("divisions_activate"), () => setActive(d, true), { class: "secondary small", name: "activate" })));
  }

  async function load() {
    clear(list, spinner());
    try {
      const data = await api.get("/divisions", { page: state.page, per_page: PER_PAGE, q: state.q, level: state.level,
                                                 active: state.active });
      const pager = h("p", { class: "pager" },
        state.page > 1 ? button(t("users_prev"), () => { state.page -= 1; load(); }, { class: "link" }) : null,
        ` ${t("divisions_page", { page: data.page, pages: Math.max(1, data.pages), total: data.total })} `,
        state.page < data.pages ? button(t("users_next"), () => { state.page += 1; load(); }, { class: "link" }) : null);
      clear(list, h("div", { class: "table-wrap" }, h("table", { class: "rates users", id: "divisions-table" },
        h("thead", {}, h("tr", {}, [t("imports_code"), t("imports_name"), t("divisions_level"), t("divisions_kind"),
                                     t("users_state"), ""].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, data.items.map(row)))), pager);
    } catch (err) {
      clear(list);
      fail(err);
    }
  }

  main.append(h("h1", {}, t("nav_divisions")), h("p", { class: "small" }, t("divisions_explain")), message, error, filters, list);
  await load();
}
