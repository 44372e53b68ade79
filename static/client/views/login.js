import { api, request, session } from "../api.js";
import { errorText, t } from "../i18n.js";
import { syncOutbox } from "../outbox.js";
import { announce, field, h } from "../ui.js";

export function renderLogin(main, { onLoggedIn }) {
  const username = h("input", { name: "username", autocomplete: "username", required: true, autocapitalize: "none" });
  const password = h("input", { name: "password", type: "password", autocomplete: "current-password", required: true });
  const submit = h("button", { type: "submit", class: "primary" }, t("login"));
  const error = h("p", { class: "error", role: "alert", hidden: true });
  const form = h("form", { class: "card narrow", novalidate: true }, h("h1", {}, t("login_title")),
    field(t("username"), username), field(t("password"), password), error, submit);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    submit.disabled = true;
    announce(t("logging_in"));
    try {
      const { token } = await request("POST", "/auth/token", {
        json: { username: username.value.trim(), password: password.value }, auth: false });
      localStorage.setItem("rie.token", token);
      const me = await api.get("/me");
      session.save(token, me);
      announce("");
      syncOutbox({ force: true });
      onLoggedIn();
    } catch (err) {
      session.clear();
      error.textContent = errorText(err);
      error.hidden = false;
      announce("");
      password.focus();
    } finally {
      submit.disabled = false;
    }
  });
  main.append(form);
  username.focus();
}
