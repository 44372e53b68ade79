// The administrator's webhooks screen: the endpoints of divisions in scope (add, edit, disable /
// enable, rotate the secret, delete, 发送测试事件 with its outcome on the row) and the deliveries
// (filters: endpoint, status; pages) with attempts, the last answer or error and the next retry.
import { api, request } from "../../api.js";
import { errorText, formatDateTime, lang, t } from "../../i18n.js";
import { announce, button, clear, confirmDialog, field, h, spinner } from "../../ui.js";

const EVENTS = ["inspection.submitted", "inspection.returned", "inspection.approved", "inspection.rejected",
                "inspection.reopened"];
const STATUSES = ["pending", "delivered", "failed"];
const PER_PAGE = 20;

function eventLabel(event) {
  const key = `webhooks_event_${event.replace(/\./g, "_")}`;
  const text = t(key);
  return text === key ? event : text;
}

function eventsText(events) {
  if (!events) return t("webhooks_all_events");
  return events.map(eventLabel).join(lang() === "en" ? ", " : "、");
}

/** The outcome of a test event in words: success or failure, the HTTP status or the error, the time. */
function pingText(result) {
  const what = result.status_code === null || result.status_code === undefined ? result.error : `HTTP ${result.status_code}`;
  return t(result.ok ? "webhooks_test_ok" : "webhooks_test_failed", { what, ms: result.duration_ms });
}

export async function renderWebhooks(main, { me }) {
  const state = { page: 1, endpoint: "", status: "", editing: null, endpoints: [] };
  const message = h("p", { class: "notice", role: "status", id: "webhooks-message", hidden: true });
  const error = h("p", { class: "error", role: "alert", id: "webhooks-error", hidden: true });
  const secretBox = h("div", { class: "card notice secret-once", id: "webhook-secret", hidden: true });
  const endpointList = h("div", { id: "webhook-endpoints-list" });
  const deliveryList = h("div", { id: "webhook-deliveries-list" });

  function say(text) { message.textContent = text; message.hidden = !text; error.hidden = true; }
  function fail(err) { error.textContent = errorText(err); error.hidden = false; message.hidden = true; }
  function showSecret(endpoint) {
    clear(secretBox, h("p", {}, t("webhooks_secret_once", { url: endpoint.url })),
      h("code", { class: "secret", id: "webhook-secret-value" }, endpoint.secret),
      h("p", { class: "small" }, t("webhooks_secret_how")));
    secretBox.hidden = false;
  }

  // --- the add / edit form ------------------------------------------------------------------
  const fDivision = h("input", { name: "division", inputmode: "numeric", required: true, autocomplete: "off",
                                 value: me.scope?.code || "" });
  const fUrl = h("input", { name: "url", type: "url", required: true, autocomplete: "off", placeholder: "https://",
                            autocapitalize: "none" });
  const eventBoxes = EVENTS.map((event) => h("input", { type: "checkbox", name: "event", value: event, checked: true }));
  const fActive = h("input", { type: "checkbox", name: "active", checked: true });
  const formTitle = h("h2", {}, t("webhooks_add"));
  const submit = h("button", { type: "submit", class: "primary" }, t("webhooks_add_button"));
  const cancel = button(t("cancel"), () => resetForm(), { class: "secondary", name: "cancel", hidden: true });
  const form = h("form", { class: "card", id: "webhook-form" }, formTitle,
    field(t("webhooks_division"), fDivision, t("webhooks_division_hint")),
    field(t("webhooks_url"), fUrl, t("webhooks_url_hint")),
    h("fieldset", { class: "events" }, h("legend", {}, t("webhooks_events")),
      eventBoxes.map((box) => h("label", { class: "check" }, box, ` ${eventLabel(box.value)}`))),
    h("label", { class: "check" }, fActive, ` ${t("webhooks_active")}`),
    h("div", { class: "actions" }, submit, cancel));

  function resetForm() {
    state.editing = null;
    form.reset();
    fDivision.value = me.scope?.code || "";
    for (const box of [...eventBoxes, fActive]) box.checked = true;
    formTitle.textContent = t("webhooks_add");
    submit.textContent = t("webhooks_add_button");
    cancel.hidden = true;
  }

  function edit(endpoint) {
    state.editing = endpoint;
    fDivision.value = endpoint.division_code;
    fUrl.value = endpoint.url;
    for (const box of eventBoxes) box.checked = !endpoint.events || endpoint.events.includes(box.value);
    fActive.checked = endpoint.active;
    formTitle.textContent = t("webhooks_edit_title", { id: endpoint.id });
    submit.textContent = t("users_save");
    cancel.hidden = false;
    fUrl.focus();
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const chosen = eventBoxes.filter((b) => b.checked).map((b) => b.value);
    if (!chosen.length) { error.textContent = t("webhooks_choose_event"); error.hidden = false; return; }
    const body = { division_code: fDivision.value.trim(), url: fUrl.value.trim(),
                   events: chosen.length === EVENTS.length ? null : chosen, active: fActive.checked };
    try {
      if (state.editing) {
        const saved = await request("PATCH", `/webhook-endpoints/${state.editing.id}`, { json: body });
        say(t("webhooks_saved", { url: saved.url }));
      } else {
        const made = await api.post("/webhook-endpoints", body);
        say(t("webhooks_added", { url: made.url }));
        showSecret(made);
      }
      resetForm();
      loadEndpoints();
    } catch (err) { fail(err); }
  });

  // --- endpoints ----------------------------------------------------------------------------
  async function patch(endpoint, body, done) {
    try {
      const saved = await request("PATCH", `/webhook-endpoints/${endpoint.id}`, { json: body });
      say(t(done, { url: saved.url }));
      if (saved.secret) showSecret(saved);
      loadEndpoints();
    } catch (err) { fail(err); }
  }

  async function rotate(endpoint) {
    const ok = await confirmDialog(t("webhooks_rotate_confirm", { url: endpoint.url }), { confirm: t("webhooks_rotate") });
    if (ok) patch(endpoint, { rotate_secret: true }, "webhooks_rotated");
  }

  async function remove(endpoint) {
    const ok = await confirmDialog(t("webhooks_delete_confirm", { url: endpoint.url }),
                                   { confirm: t("webhooks_delete"), danger: true });
    if (!ok) return;
    try {
      await request("DELETE", `/webhook-endpoints/${endpoint.id}`);
      say(t("webhooks_deleted", { url: endpoint.url }));
      if (state.editing?.id === endpoint.id) resetForm();
      loadEndpoints();
      loadDeliveries();
    } catch (err) { fail(err); }
  }

  async function test(endpoint, outcome, trigger) {
    trigger.disabled = true;
    outcome.className = "test-result muted";
    outcome.textContent = t("webhooks_testing");
    try {
      const result = await api.post(`/webhook-endpoints/${endpoint.id}/test`, {});
      outcome.className = `test-result ${result.ok ? "ok" : "bad"}`;
      outcome.textContent = pingText(result);
      loadDeliveries();
    } catch (err) {
      outcome.className = "test-result bad";
      outcome.textContent = errorText(err);
    } finally {
      trigger.disabled = false;
    }
  }

  function endpointRow(endpoint) {
    const outcome = h("div", { class: "test-result", role: "status" });
    const testButton = button(t("webhooks_test"), () => test(endpoint, outcome, testButton), { class: "secondary", name: "test" });
    return h("tr", { dataset: { id: endpoint.id, url: endpoint.url }, class: endpoint.active ? "" : "disabled" },
      h("td", {}, h("strong", {}, endpoint.division?.name || endpoint.division_code),
        h("div", { class: "small muted" }, endpoint.division_code)),
      h("td", { class: "url" }, endpoint.url),
      h("td", {}, eventsText(endpoint.events)),
      h("td", { class: "state" }, endpoint.active ? t("users_active") : t("users_disabled")),
      h("td", { class: "small" }, formatDateTime(endpoint.created_at),
        endpoint.created_by ? h("div", {}, endpoint.created_by.display_name || endpoint.created_by.username) : null),
      h("td", { class: "actions" },
        testButton,
        button(t("webhooks_edit"), () => edit(endpoint), { class: "secondary", name: "edit" }),
        endpoint.active
          ? button(t("users_disable"), () => patch(endpoint, { active: false }, "webhooks_disabled_done"), { class: "bad-button", name: "disable" })
          : button(t("users_enable"), () => patch(endpoint, { active: true }, "webhooks_enabled_done"), { class: "secondary", name: "enable" }),
        button(t("webhooks_rotate"), () => rotate(endpoint), { class: "secondary", name: "rotate" }),
        button(t("webhooks_delete"), () => remove(endpoint), { class: "secondary", name: "delete" }),
        outcome));
  }

  async function loadEndpoints() {
    clear(endpointList, spinner());
    try {
      const data = await api.get("/webhook-endpoints", { per_page: 200 });
      state.endpoints = data.items;
      fillEndpointFilter();
      clear(endpointList, data.items.length ? h("div", { class: "table-wrap" }, h("table", { class: "rates users webhooks", id: "webhook-endpoints" },
        h("thead", {}, h("tr", {}, [t("webhooks_division"), t("webhooks_url"), t("webhooks_events"), t("users_state"),
                                     t("webhooks_created"), ""].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, data.items.map(endpointRow)))) : h("p", { class: "muted", id: "webhook-endpoints-empty" }, t("webhooks_none")));
    } catch (err) {
      clear(endpointList);
      fail(err);
    }
  }

  // --- deliveries ---------------------------------------------------------------------------
  const dEndpoint = h("select", { name: "filter-endpoint" });
  const dStatus = h("select", { name: "filter-status" }, h("option", { value: "" }, t("users_all")),
    STATUSES.map((s) => h("option", { value: s }, t(`webhooks_status_${s}`))));
  const deliveryFilters = h("form", { class: "card filters", id: "deliveries-filters" },
    field(t("webhooks_endpoint"), dEndpoint), field(t("users_state"), dStatus),
    h("button", { type: "submit", class: "secondary" }, t("users_filter")));
  deliveryFilters.addEventListener("submit", (event) => {
    event.preventDefault();
    Object.assign(state, { page: 1, endpoint: dEndpoint.value, status: dStatus.value });
    loadDeliveries();
  });

  function fillEndpointFilter() {
    const current = dEndpoint.value;
    clear(dEndpoint, h("option", { value: "" }, t("users_all")), h("option", { value: "0" }, t("webhooks_env_endpoint")),
      state.endpoints.map((e) => h("option", { value: String(e.id) }, `#${e.id} ${e.division?.name || e.division_code} ${e.url}`)));
    dEndpoint.value = current;
  }

  function deliveryRow(d) {
    const target = state.endpoints.find((e) => e.id === d.endpoint_id);
    const last = d.last_status_code ? `HTTP ${d.last_status_code}` : "";
    return h("tr", { dataset: { id: d.id, status: d.status, event: d.event } },
      h("td", {}, `#${d.id}`, h("div", { class: "small muted" }, formatDateTime(d.created_at))),
      h("td", {}, eventLabel(d.event), d.inspection_id
        ? h("div", { class: "small" }, h("a", { href: `#/inspection/${d.inspection_id}` }, `#${d.inspection_id}`)) : null),
      h("td", { class: "url" }, d.url, h("div", { class: "small muted" },
        d.endpoint_id ? (target ? `#${target.id} ${target.division?.name || target.division_code}` : `#${d.endpoint_id}`) : t("webhooks_env_endpoint"))),
      h("td", { class: `delivery-${d.status}` }, t(`webhooks_status_${d.status}`)),
      h("td", { class: "attempts" }, String(d.attempts)),
      h("td", { class: "last" }, d.status === "delivered" ? [last, d.delivered_at ? h("div", { class: "small muted" }, formatDateTime(d.delivered_at)) : null]
        : [last, d.last_error && d.last_error !== last ? h("div", { class: "small" }, d.last_error) : null, !last && !d.last_error ? "—" : null]),
      h("td", { class: "next" }, d.status === "pending" ? formatDateTime(d.next_attempt_at) : "—"));
  }

  async function loadDeliveries() {
    clear(deliveryList, spinner());
    try {
      const data = await api.get("/webhooks/deliveries", { page: state.page, per_page: PER_PAGE, endpoint: state.endpoint,
                                                           status: state.status });
      const pager = h("p", { class: "pager", id: "deliveries-pager" },
        state.page > 1 ? button(t("users_prev"), () => { state.page -= 1; loadDeliveries(); }, { class: "link", name: "prev" }) : null,
        ` ${t("webhooks_page", { page: data.page, pages: Math.max(1, data.pages), total: data.total })} `,
        state.page < data.pages ? button(t("users_next"), () => { state.page += 1; loadDeliveries(); }, { class: "link", name: "next" }) : null);
      clear(deliveryList, data.items.length ? h("div", { class: "table-wrap" }, h("table", { class: "rates webhooks", id: "webhook-deliveries" },
        h("thead", {}, h("tr", {}, [t("webhooks_delivery"), t("webhooks_event"), t("webhooks_target"), t("users_state"),
                                     t("webhooks_attempts"), t("webhooks_last"), t("webhooks_next")].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, data.items.map(deliveryRow)))) : h("p", { class: "muted", id: "webhook-deliveries-empty" }, t("webhooks_no_deliveries")), pager);
    } catch (err) {
      clear(deliveryList);
      fail(err);
    }
  }

  main.append(h("h1", {}, t("nav_webhooks")), message, error, secretBox,
    h("section", { "aria-labelledby": "webhook-endpoints-title" }, h("h2", { id: "webhook-endpoints-title" }, t("webhooks_endpoints")),
      endpointList),
    form,
    h("section", { "aria-labelledby": "webhook-deliveries-title" }, h("h2", { id: "webhook-deliveries-title" }, t("webhooks_deliveries")),
      deliveryFilters, deliveryList));
  announce("");
  await loadEndpoints();
  await loadDeliveries();
}
