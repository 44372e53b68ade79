// The forced password change: after an administrator created the account or reset its password,
// the user sets their own before anything else (the server answers 403 password_change_required).
import { api, request, session } from "../api.js";
import { errorText, t } from "../i18n.js";
import { field, h } from "../ui.js";

export function renderPassword(main, { go }) {
  const current = h("input", { name: "current-password", type: "password", autocomplete: "current-password", required: true });
  const next = h("input", { name: "new-password", type: "password", autocomplete: "new-password", required: true, minlength: 8 });
  const again = h("input", { name: "new-password-again", type: "password", autocomplete: "new-password", required: true });
  const error = h("p", { class: "error", role: "alert", hidden: true });
  const submit = h("button", { type: "submit", class: "primary" }, t("password_change"));
  const form = h("form", { class: "card narrow", id: "password-form", novalidate: true },
    h("h1", {}, t("password_title")), h("p", {}, t("password_explain")),
    field(t("password_current"), current), field(t("password_new"), next, t("users_initial_password_hint")),
    field(t("password_again"), again), error, submit);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    if (next.value !== again.value) {
      error.textContent = t("password_mismatch");
      error.hidden = false;
      return;
    }
    submit.disabled = true;
    try {
      await request("POST", "/me/password", { json: { current_password: current.value, new_password: next.value } });
      session.save(session.token, await api.get("/me"));
      go("");
    } catch (err) {
      error.textContent = errorText(err);
      error.hidden = false;
    } finally {
      submit.disabled = false;
    }
  });
  main.append(form);
  current.focus();
}
