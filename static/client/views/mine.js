// My inspections (inspectors) or the inspections in scope (reviewers and above): every one of them,
// page by page, with a status filter; returned ones show the reviewer's comment and "修改并重新提交";
// each opens its detail. The last pages fetched are kept for offline reading and marked as such.
import { api, session } from "../api.js";
import { errorText, formatDateTime, t } from "../i18n.js";
import { badge, button, clear, field, h, spinner } from "../ui.js";
import { offlineNote, readCopy, writeCopy } from "./offline-copy.js";

export const STATUS_CLASS = { submitted: "info", approved: "ok", rejected: "bad", returned: "warn" };
const STATUSES = ["submitted", "approved", "rejected", "returned"];
const PER_PAGE = 20;

function reviewComment(item) {
  return item.latest_review?.comment; // no review yet, or a decision without a comment
}

function itemView(item, isInspector) {
  const comment = reviewComment(item);
  return h("li", { class: "card mine-item", dataset: { id: item.id, status: item.status } },
    h("div", { class: "row" },
      h("a", { href: `#/inspection/${item.id}`, class: "strong-link" }, `#${item.id} ${item.village.name}`),
      badge(t(`status_${item.status}`), STATUS_CLASS[item.status])),
    h("div", { class: "muted" }, `${t("observed_at")}: ${formatDateTime(item.observed_at)}`,
      item.version > 1 ? ` · ${t("version", { v: item.version })}` : "",
      !isInspector && item.inspector ? ` · ${item.inspector.display_name || item.inspector.username}` : ""),
    comment ? h("p", { class: "review-comment" }, h("strong", {}, `${t("reviewer_comment")}: `), comment) : null,
    item.status === "returned" && isInspector ? h("a", { class: "button-like", href: `#/edit/${item.id}` }, t("edit_resubmit")) : null);
}

export async function renderMine(main) {
  const me = session.me;
  const isInspector = me?.role === "inspector";
  const status = h("select", { name: "status", id: "mine-status" },
    h("option", { value: "" }, t("all_statuses")),
    STATUSES.map((s) => h("option", { value: s }, t(`status_${s}`))));
  const summary = h("p", { class: "muted", id: "mine-summary", role: "status" });
  const note = h("div");
  const list = h("ul", { class: "plain", id: "mine-list" });
  const pager = h("nav", { class: "pager", "aria-label": t("pages") });
  const returned = h("div");
  main.append(h("h1", {}, t(isInspector ? "mine_title" : "records_title")), returned,
    h("div", { class: "controls" }, field(t("status_filter"), status)), summary, note, list, pager);
  let page = 1;

  // inspectors: what waits for them first, the inspections sent back with the reviewer's comment
  async function loadReturned() {
    const copyKey = `mine.${me?.id}.returned-first`;
    let data;
    try {
      data = await api.get("/inspections", { status: "returned", per_page: 50 });
      writeCopy(copyKey, data);
    } catch {
      data = readCopy(copyKey)?.data;
    }
    if (!data?.items.length) return;
    clear(returned, h("section", { "aria-labelledby": "returned-h", class: "returned" },
      h("h2", { id: "returned-h" }, t("returned_title")),
      h("ul", { class: "plain", id: "returned-list" }, data.items.map((item) => itemView(item, true)))));
  }

  let latest = 0;  // a later load (another page, another filter) wins over an answer still on its way

  async function load() {
    const mine = ++latest;
    clear(list, h("li", {}, spinner()));
    clear(note);
    const query = { status: status.value || undefined, page, per_page: PER_PAGE };
    const copyKey = `mine.${me?.id}.${status.value}.${page}`;
    let data;
    try {
      data = await api.get("/inspections", query);
      writeCopy(copyKey, data);
    } catch (err) {
      if (mine !== latest) return;
      const copy = readCopy(copyKey);
      if (!copy) {
        clear(list, h("li", { class: "error", role: "alert" }, errorText(err)));
        clear(pager);
        return;
      }
      data = copy.data;
      clear(note, offlineNote(copy));
    }
    if (mine !== latest) return;
    summary.textContent = t("list_summary", { total: data.total, page: data.page, pages: Math.max(1, data.pages) });
    clear(list, data.items.length ? data.items.map((item) => itemView(item, isInspector))
      : h("li", { class: "muted" }, t("mine_empty")));
    clear(pager,
      button(`‹ ${t("prev_page")}`, () => { page -= 1; load(); }, { disabled: page <= 1, id: "mine-prev", class: "secondary" }),
      h("span", { class: "muted" }, t("page_of", { page: data.page, pages: Math.max(1, data.pages) })),
      button(`${t("next_page")} ›`, () => { page += 1; load(); }, { disabled: page >= data.pages, id: "mine-next", class: "secondary" }));
  }

  status.addEventListener("change", () => { page = 1; load(); });
  await Promise.all([isInspector ? loadReturned() : null, load()]);
}
