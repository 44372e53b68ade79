// The review queue: all of it, a page at a time, with the totals ("共 209 条，其中 82 条有警示"),
// the controls' sort, filters and search; the selected item, a decision on one item, and bulk
// approval of the unflagged ones, which asks first, covers exactly the ids it names and says
// how many were applied and which failed.
import { api } from "../../api.js";
import { errorText, t } from "../../i18n.js";
import { announce, button, clear, confirmDialog, h, spinner } from "../../ui.js";
import { queueCard } from "./card.js";

const PER_PAGE = 50;
const BULK_PAGE = 200;
const MAX_BULK = 500; // the server's limit per request

/** reviewQueue({checklist, aspectLabel, view, ask, map, compare, query, hasFlagFilter, keys}) →
 *  {list, summary, pager, bulkButton, bulkResult, load(page), decide, current, move}. */
export function reviewQueue({ checklist, aspectLabel, view, ask, map, compare, query, keys }) {
  const list = h("ol", { class: "queue", id: "queue", "aria-label": t("review_title") });
  const summary = h("p", { class: "queue-summary", id: "queue-summary", role: "status" });
  const pager = h("nav", { class: "pager", id: "queue-pager", "aria-label": t("pages") });
  const bulkButton = button("", () => bulkApprove(), { id: "bulk-approve", class: "secondary" });
  const bulkResult = h("div", { id: "bulk-result", role: "status" });
  let items = [];
  let selected = 0;
  let state = { page: 1, pages: 0, total: 0, counts: { waiting: 0, flagged: 0 } };
  let loading = 0;

  function unflaggedCount() {
    const flag = query().flag;
    if (flag && flag !== "none") return 0;
    return flag === "none" ? state.counts.waiting : state.counts.waiting - state.counts.flagged;
  }

  async function load(page = state.page) {
    const ticket = ++loading;
    clear(list, spinner());
    let data;
    try {
      data = await api.get("/review-queue", { ...query(), page, per_page: PER_PAGE });
    } catch (err) {
      if (ticket === loading) clear(list, h("li", { class: "error", role: "alert" }, errorText(err)));
      return;
    }
    if (ticket !== loading) return; // a newer request (another filter) is on its way
    if (data.items.length === 0 && page > 1 && data.pages > 0) {
      await load(data.pages); // the last page emptied meanwhile
      return;
    }
    items = data.items;
    state = { page: data.page, pages: data.pages, total: data.total, counts: data.counts };
    selected = 0;
    render();
  }

  function pagerButtons() {
    const { page, pages } = state;
    const go = (p) => () => { load(p); list.scrollIntoView?.({ block: "start" }); };
    return [
      button(`« ${t("first_page")}`, go(1), { disabled: page <= 1, class: "secondary small", id: "queue-first" }),
      button(`‹ ${t("prev_page")}`, go(page - 1), { disabled: page <= 1, class: "secondary small", id: "queue-prev" }),
      h("span", { class: "muted", id: "queue-page" }, t("page_of", { page, pages: Math.max(1, pages) })),
      button(`${t("next_page")} ›`, go(page + 1), { disabled: page >= pages, class: "secondary small", id: "queue-next" }),
      button(`${t("last_page")} »`, go(pages), { disabled: page >= pages, class: "secondary small", id: "queue-last" }),
    ];
  }

  function render() {
    const n = unflaggedCount();
    bulkButton.textContent = t("bulk_approve", { n });
    bulkButton.disabled = n === 0;
    summary.textContent = t("queue_summary", { total: state.counts.waiting, flagged: state.counts.flagged });
    clear(pager, state.pages > 1 ? pagerButtons() : null);
    if (!items.length) {
      clear(list, h("li", { class: "muted" }, t("queue_empty")));
      return;
    }
    selected = Math.min(selected, items.length - 1);
    clear(list, items.map((item, index) => queueCard(item, {
      index, selected: index === selected, checklist, aspectLabel, onfocus: () => select(index, false),
      view, decide, ask, map, compare, keys })));
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
      state.counts = { ...state.counts, waiting: state.counts.waiting - 1,
                       flagged: state.counts.flagged - (item.flag_count > 0 ? 1 : 0) };
      announce(t("decided", { decision: t(decision) }), "ok");
      if (!items.length && state.counts.waiting > 0) {
        await load(Math.min(state.page, Math.max(1, Math.ceil(state.counts.waiting / PER_PAGE))));
        return;
      }
      render();
      select(selected);
    } catch (err) {
      announce(errorText(err), "error");
      if (err.status === 409 || err.status === 404) await load();
    }
  }

  /** The ids of the unflagged items under the current filters (at most MAX_BULK), with their cards' words;
   * an item whose photos are still being checked (checks_pending) is left for a look of its own. */
  async function unflaggedItems() {
    const chosen = [];
    let pending = 0;
    for (let page = 1; chosen.length < MAX_BULK; page += 1) {
      const data = await api.get("/review-queue", { ...query(), flag: "none", page, per_page: BULK_PAGE });
      const checked = data.items.filter((item) => !item.checks_pending); // the others' flags are not final yet
      pending += data.items.length - checked.length;
      chosen.push(...checked);
      if (page >= data.pages) break;
    }
    return { chosen: chosen.slice(0, MAX_BULK), pending };
  }

  function resultText(result, byId) {
    const failed = result.results.filter((r) => !r.ok);
    const lines = failed.map((r) => t("bulk_failed_item", {
      id: r.id, village: byId.get(r.id)?.village.name || "",
      reason: r.error === "invalid_transition" ? t("bulk_now_status", { status: t(`status_${r.status}`) }) : t("bulk_not_found") }));
    return h("div", { class: `card ${failed.length ? "notice" : ""}` },
      h("p", {}, failed.length ? t("bulk_done_some_failed", { n: result.succeeded, failed: failed.length }) : t("bulk_done", { n: result.succeeded })),
      lines.length ? h("ul", { class: "small", id: "bulk-failures" }, lines.map((line) => h("li", {}, line))) : null);
  }

  async function bulkApprove() {
    bulkButton.disabled = true;
    clear(bulkResult);
    try {
      const { chosen, pending } = await unflaggedItems();
      if (!chosen.length) {
        if (pending) announce(t("bulk_pending", { n: pending }), "info");
        return;
      }
      const details = chosen.slice(0, 8).map((i) => [`#${i.id} ${i.village.name}`, i.inspector?.display_name || i.inspector?.username]
        .filter(Boolean).join(" · "));
      if (chosen.length > 8) details.push(t("and_more", { n: chosen.length - 8 }));
      if (pending) details.push(t("bulk_pending", { n: pending }));
      if (unflaggedCount() > chosen.length + pending) details.push(t("bulk_limit", { n: MAX_BULK }));
      const ok = await confirmDialog(t("bulk_confirm", { n: chosen.length }), { confirm: t("bulk_confirm_button", { n: chosen.length }), details });
      if (!ok) return;
      const result = await api.post("/reviews/bulk", { decision: "approve", ids: chosen.map((i) => i.id) });
      const byId = new Map(chosen.map((i) => [i.id, i]));
      clear(bulkResult, resultText(result, byId));
      announce(t("bulk_done", { n: result.succeeded }), result.failed ? "info" : "ok");
    } catch (err) {
      announce(errorText(err), "error");
    } finally {
      await load(1);
    }
  }

  return { list, summary, pager, bulkButton, bulkResult, load, decide, current: () => items[selected],
           move: (delta) => select(selected + delta) };
}
