// Inspector: "本月待巡查" — the villages of the scope with no submitted or approved inspection this
// month (GET /villages/due), never visited first, each with when it was last visited and a link
// that opens the form for it. The last list fetched is kept for offline use and marked as such.
import { allPages, session } from "../api.js";
import { errorText, formatDate, t } from "../i18n.js";
import { clear, h, spinner } from "../ui.js";
import { offlineNote, readCopy, writeCopy } from "./offline-copy.js";

/** This month in China time, as a period key (2026-11). */
export function chinaMonth(now = new Date()) {
  const parts = Object.fromEntries(new Intl.DateTimeFormat("en", { timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit" })
    .formatToParts(now).map((p) => [p.type, p.value]));
  return `${parts.year}-${parts.month}`;
}

function lastVisit(item) {
  if (!item.last_visited_at) return t("never_visited");
  const status = item.last_status ? ` · ${t(`status_${item.last_status}`)}` : "";
  return `${t("last_visited")}: ${formatDate(item.last_visited_at)}${status}`;
}

export async function renderDue(main) {
  const period = chinaMonth();
  const summary = h("p", { class: "muted", id: "due-summary" });
  const note = h("div");
  const list = h("ul", { class: "plain", id: "due-list" }, h("li", {}, spinner()));
  main.append(h("h1", {}, t("due_title")), summary, note, list);
  const copyKey = `due.${session.me?.id}.${period}`;
  let data;
  let copy = null;
  try {
    const items = await allPages("/villages/due", { period });
    data = { period, items };
    writeCopy(copyKey, data);
  } catch (err) {
    copy = readCopy(copyKey);
    if (!copy) {
      clear(list, h("li", { class: "error", role: "alert" }, errorText(err)));
      return;
    }
    data = copy.data;
    clear(note, offlineNote(copy));
  }
  summary.textContent = t("due_summary", { period: data.period, n: data.items.length });
  if (!data.items.length) {
    clear(list, h("li", { class: "muted" }, t("due_empty")));
    return;
  }
  clear(list, data.items.map((item) => h("li", { class: "card due-item", dataset: { code: item.code } },
    h("div", { class: "row" }, h("strong", {}, item.name), h("span", { class: "muted" }, item.township?.name || "")),
    h("div", { class: item.last_visited_at ? "muted" : "warn-text" }, lastVisit(item)),
    h("a", { class: "button-like", href: `#/inspect/${item.code}` }, t("inspect_this")))));
}
