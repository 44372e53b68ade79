// The administrator's users screen: accounts in scope with filters and pages, create, change role,
// scope and name, disable / enable, reset a password (the generated one is shown once), last login.
import { api, request } from "../../api.js";
import { errorText, formatDateTime, t } from "../../i18n.js";
import { announce, button, clear, confirmDialog, field, h, spinner } from "../../ui.js";

const ROLES = ["inspector", "reviewer", "bureau", "admin"];
const PER_PAGE = 50;

function roleSelect(name, value, withAll = false) {
  return h("select", { name },
    withAll ? h("option", { value: "" }, t("users_all")) : null,
    ROLES.map((role) => h("option", { value: role, selected: role === value }, t(`role_${role}`))));
}

export async function renderUsers(main, { me }) {
  const state = { page: 1, role: "", scope: "", active: "", q: "" };
  const message = h("p", { class: "notice", role: "status", id: "users-message", hidden: true });
  const error = h("p", { class: "error", role: "alert", id: "users-error", hidden: true });
  const list = h("div", { id: "users-list" });

  function say(text) { message.textContent = text; message.hidden = !text; error.hidden = true; }
  function fail(err) { error.textContent = errorText(err); error.hidden = false; message.hidden = true; }

  // filters
  const fRole = roleSelect("filter-role", "", true);
  const fScope = h("input", { name: "filter-scope", inputmode: "numeric", placeholder: me.scope?.code || "" });
  const fActive = h("select", { name: "filter-active" },
    h("option", { value: "" }, t("users_all")), h("option", { value: "true" }, t("users_active")),
    h("option", { value: "false" }, t("users_disabled")));
  const fQ = h("input", { name: "filter-q", type: "search" });
  const filters = h("form", { class: "card filters", id: "users-filters" },
    field(t("users_role"), fRole), field(t("users_scope"), fScope), field(t("users_state"), fActive),
    field(t("users_search"), fQ), h("button", { type: "submit", class: "secondary" }, t("users_filter")));
  filters.addEventListener("submit", (event) => {
    event.preventDefault();
    Object.assign(state, { page: 1, role: fRole.value, scope: fScope.value.trim(), active: fActive.value, q: fQ.value.trim() });
    load();
  });

  // create
  const cName = h("input", { name: "new-username", autocomplete: "off", required: true, autocapitalize: "none" });
  const cDisplay = h("input", { name: "new-display-name", autocomplete: "off" });
  const cPassword = h("input", { name: "new-password", type: "password", autocomplete: "new-password", required: true, minlength: 8 });
  const cRole = roleSelect("new-role", "inspector");
  const cScope = h("input", { name: "new-scope", inputmode: "numeric", required: true, value: me.scope?.code || "" });
  const create = h("form", { class: "card", id: "users-create" }, h("h2", {}, t("users_create")),
    field(t("username"), cName), field(t("users_display_name"), cDisplay),
    field(t("users_initial_password"), cPassword, t("users_initial_password_hint")),
    field(t("users_role"), cRole), field(t("users_scope"), cScope),
    h("button", { type: "submit", class: "primary" }, t("users_create_button")));
  create.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const user = await api.post("/users", { username: cName.value.trim(), password: cPassword.value,
        role: cRole.value, scope_code: cScope.value.trim(), display_name: cDisplay.value.trim() || null });
      create.reset();
      cScope.value = me.scope?.code || "";
      say(t("users_created", { user: user.username }));
      load();
    } catch (err) { fail(err); }
  });

  async function patch(user, body, done) {
    try {
      const updated = await request("PATCH", `/users/${user.id}`, { json: body });
      say(t(done, { user: updated.username }));
      load();
    } catch (err) { fail(err); }
  }

  async function resetPassword(user) {
    const ok = await confirmDialog(t("users_reset_confirm", { user: user.username }), { confirm: t("users_reset") });
    if (!ok) return;
    try {
      const answer = await api.post(`/users/${user.id}/password`, {});
      say(t("users_reset_done", { user: user.username, password: answer.temporary_password }));
      load();
    } catch (err) { fail(err); }
  }

  function row(user) {
    const role = roleSelect("role", user.role);
    const scope = h("input", { name: "scope", value: user.scope_code, inputmode: "numeric", size: 12,
                                "aria-label": `${t("users_scope")} ${user.username}` });
    role.setAttribute("aria-label", `${t("users_role")} ${user.username}`);
    const self = user.id === me.id;
    if (self) { role.disabled = true; scope.disabled = true; }
    return h("tr", { dataset: { username: user.username }, class: user.active ? "" : "disabled" },
      h("td", {}, h("strong", {}, user.username), user.display_name ? h("div", { class: "small" }, user.display_name) : null),
      h("td", {}, role),
      h("td", {}, scope, h("div", { class: "small" }, user.scope?.name || "")),
      h("td", { class: "state" }, user.active ? t("users_active") : t("users_disabled"),
        user.must_change_password ? h("div", { class: "small" }, t("users_must_change")) : null),
      h("td", { class: "last-login" }, user.last_login_at ? formatDateTime(user.last_login_at) : t("users_never")),
      h("td", { class: "actions" },
        self ? null : button(t("users_save"), () => patch(user, { role: role.value, scope_code: scope.value.trim() }, "users_saved"),
                             { class: "secondary", name: "save" }),
        self ? null : (user.active
          ? button(t("users_disable"), () => patch(user, { active: false }, "users_disabled_done"), { class: "bad-button", name: "disable" })
          : button(t("users_enable"), () => patch(user, { active: true }, "users_enabled_done"), { class: "secondary", name: "enable" })),
        button(t("users_reset"), () => resetPassword(user), { class: "secondary", name: "reset" })));
  }

  async function load() {
    clear(list, spinner());
    try {
      const data = await api.get("/users", { page: state.page, per_page: PER_PAGE, role: state.role, scope: state.scope,
                                             active: state.active, q: state.q });
      const pager = h("p", { class: "pager" },
        state.page > 1 ? button(t("users_prev"), () => { state.page -= 1; load(); }, { class: "link" }) : null,
        ` ${t("users_page", { page: data.page, pages: Math.max(1, data.pages), total: data.total })} `,
        state.page < data.pages ? button(t("users_next"), () => { state.page += 1; load(); }, { class: "link" }) : null);
      clear(list, h("div", { class: "table-wrap" }, h("table", { class: "rates users", id: "users-table" },
        h("thead", {}, h("tr", {}, [t("username"), t("users_role"), t("users_scope"), t("users_state"),
                                     t("users_last_login"), ""].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, data.items.map(row)))), pager);
    } catch (err) {
      clear(list);
      fail(err);
    }
  }

  main.append(h("h1", {}, t("nav_users")), message, error, filters, list, create);
  announce("");
  await load();
}
