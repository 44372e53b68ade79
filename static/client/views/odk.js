// Inspector: set up ODK Collect / KoboCollect on a phone by scanning a QR code. A new device key
// (POST /device-keys) comes with Collect's settings as a QR image; the key is shown once, so the
// screen says so. The keys made so far are listed with when they were last used, and can be
// turned off (DELETE /device-keys/{id}) after a confirmation.
import { api, request } from "../api.js";
import { errorText, formatDateTime, t } from "../i18n.js";
import { clear, confirmDialog, h, spinner } from "../ui.js";

export async function renderOdk(main) {
  const created = h("div", { id: "odk-created" });
  const list = h("ul", { class: "plain", id: "odk-keys" }, h("li", {}, spinner()));
  const label = h("input", { name: "odk-label", maxlength: 100, placeholder: t("odk_label_hint") });
  const make = h("button", { type: "submit", class: "primary", id: "odk-make" }, t("odk_make"));
  const form = h("form", { class: "card", id: "odk-form" }, h("p", {}, t("odk_explain")),
    h("label", {}, t("odk_label"), label), make);
  main.append(h("h1", {}, t("odk_title")), form, created, h("h2", {}, t("odk_keys")), list);

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    make.disabled = true;
    try {
      const key = await api.post("/device-keys", { label: label.value.trim() || null });
      clear(created, newKeyCard(key));
      label.value = "";
      await showKeys(list);
    } catch (err) {
      clear(created, h("p", { class: "error", role: "alert" }, errorText(err)));
    } finally {
      make.disabled = false;
    }
  });
  await showKeys(list);
}

function newKeyCard(key) {
  return h("section", { class: "card odk-qr", "aria-label": t("odk_scan") },
    h("h2", {}, t("odk_scan")),
    h("img", { src: key.settings_qr, alt: t("odk_qr_alt"), id: "odk-qr", width: 240, height: 240 }),
    h("p", { class: "warn-text" }, t("odk_once")),
    h("p", { class: "small" }, t("odk_server_url"), " ", h("code", { id: "odk-url" }, key.server_url)));
}

async function showKeys(list) {
  try {
    const { items } = await api.get("/device-keys");
    if (!items.length) {
      clear(list, h("li", { class: "muted" }, t("odk_none")));
      return;
    }
    clear(list, items.map((key) => keyItem(key, list)));
  } catch (err) {
    clear(list, h("li", { class: "error", role: "alert" }, errorText(err)));
  }
}

function keyItem(key, list) {
  const used = key.last_used_at ? `${t("odk_last_used")}: ${formatDateTime(key.last_used_at)}` : t("odk_never_used");
  const state = key.active ? used : `${t("odk_revoked")}: ${formatDateTime(key.revoked_at)}`;
  const revoke = key.active ? h("button", { type: "button", class: "bad-button", dataset: { key: key.id },
    onclick: async () => {
      if (!await confirmDialog(t("odk_revoke_confirm", { label: key.label || `#${key.id}` }), { confirm: t("odk_revoke"), danger: true })) return;
      try {
        await request("DELETE", `/device-keys/${key.id}`);
      } catch (err) {
        list.prepend(h("li", { class: "error", role: "alert" }, errorText(err)));
        return;
      }
      await showKeys(list);
    } }, t("odk_revoke")) : null;
  return h("li", { class: "card odk-key", dataset: { id: key.id } },
    h("div", { class: "row" }, h("strong", {}, key.label || `#${key.id}`),
      h("span", { class: "muted" }, `${t("odk_created")}: ${formatDateTime(key.created_at)}`)),
    h("div", { class: key.active ? "muted" : "warn-text" }, state), revoke);
}
