// The comment dialog of a reject or a send-back: the comment is required; Ctrl+Enter confirms.
import { t } from "../../i18n.js";
import { button, field, h } from "../../ui.js";

/** commentDialog(onConfirm(item, decision, comment)) → {el, ask(item, decision)}. */
export function commentDialog(onConfirm) {
  const commentBox = h("textarea", { rows: 4, name: "comment", required: true });
  const commentError = h("p", { class: "error", role: "alert", hidden: true });
  const title = h("h2", { id: "decision-title" });
  const confirm = h("button", { type: "submit", class: "primary" });
  const form = h("form", { method: "dialog" }, title, field(t("comment"), commentBox), commentError,
    h("div", { class: "actions" }, confirm, button(t("cancel"), () => el.close(), { class: "secondary" })));
  const el = h("dialog", { "aria-labelledby": "decision-title", id: "decision-dialog" }, form);
  let pending = null;

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const comment = commentBox.value.trim();
    if (!comment) {
      commentError.textContent = t("comment_required");
      commentError.hidden = false;
      return;
    }
    el.close();
    onConfirm(pending.item, pending.decision, comment);
  });
  commentBox.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) form.requestSubmit();
  });

  function ask(item, decision) {
    pending = { item, decision };
    title.textContent = `${t(decision)} · #${item.id} ${item.village.name}`;
    confirm.textContent = t(decision);
    commentBox.value = "";
    commentError.hidden = true;
    el.showModal();
    commentBox.focus();
  }

  return { el, ask };
}
