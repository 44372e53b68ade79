// The review queue: its items, the selected one, a decision on one item and bulk approval.
import { api } from "../../api.js";
import { errorText, t } from "../../i18n.js";
import { announce, button, clear, h, spinner } from "../../ui.js";
import { queueCard } from "./card.js";

/** reviewQueue({aspectLabel, view, ask}) → {list, bulkButton, load, decide, current, move}. */
export function reviewQueue({ aspectLabel, view, ask }) {
  const list = h("ol", { class: "queue", id: "queue", "aria-label": t("review_title") });
  const bulkButton = button("", () => bulkApprove(), { id: "bulk-approve", class: "secondary" });
  let items = [];
  let selected = 0;

  const unflagged = () => items.filter((i) => i.flag_count === 0);

  async function load() {
    clear(list, spinner());
    try {
      items = (await api.get("/review-queue", { per_page: 100 })).items;
    } catch (err) {
      clear(list, h("li", { class: "error", role: "alert" }, errorText(err)));
      return;
    }
    render();
  }

  function render() {
    const n = unflagged().length;
    bulkButton.textContent = t("bulk_approve", { n });
    bulkButton.disabled = n === 0;
    if (!items.length) {
      clear(list, h("li", { class: "muted" }, t("queue_empty")));
      return;
    }
    selected = Math.min(selected, items.length - 1);
    clear(list, items.map((item, index) => queueCard(item, {
      index, selected: index === selected, aspectLabel, onfocus: () => select(index, false), view, decide, ask })));
  }

  function select(index, focus = true) {
    if (!items.length) return;
    selected = Math.max(0, Math.min(items.length - 1, index));
    for (const el of list.querySelectorAll(".review-item")) {
      const on = Number(el.dataset.index) === selected;
      el.classList.toggle("selected", on);
      if (on) el.setAttribute("aria-current", "true");
      else el.removeAttribute("aria-current");
      if (on && focus) el.focus();
    }
  }

  async function decide(item, decision, comment = "") {
    try {
      await api.post(`/inspections/${item.id}/review`, { decision, comment: comment || undefined, version: item.version });
      items = items.filter((i) => i.id !== item.id);
      announce(t("decided", { decision: t(decision) }), "ok");
      render();
      select(selected);
    } catch (err) {
      announce(errorText(err), "error");
      if (err.status === 409 || err.status === 404) await load();
    }
  }

  async function bulkApprove() {
    const chosen = unflagged();
    if (!chosen.length) return;
    bulkButton.disabled = true;
    try {
      const result = await api.post("/reviews/bulk", { decision: "approve", ids: chosen.map((i) => i.id) });
      announce(t("bulk_done", { n: result.succeeded }), "ok");
    } catch (err) {
      announce(errorText(err), "error");
    }
    await load();
  }

  return { list, bulkButton, load, decide, current: () => items[selected], move: (delta) => select(selected + delta) };
}
