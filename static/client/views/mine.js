// Inspector: my inspections; returned ones first, with the reviewer's comment and an edit link.
import { api } from "../api.js";
import { errorText, formatDateTime, t } from "../i18n.js";
import { badge, clear, h, spinner } from "../ui.js";

const STATUS_CLASS = { submitted: "info", approved: "ok", rejected: "bad", returned: "warn" };

function reviewComment(item) {
  return item.latest_review?.comment; // no review yet, or a decision without a comment
}

export async function renderMine(main) {
  main.append(h("h1", {}, t("mine_title")));
  const body = h("div", {}, spinner());
  main.append(body);
  try {
    const [returned, recent] = await Promise.all([
      api.get("/inspections", { status: "returned", per_page: 50 }),
      api.get("/inspections", { per_page: 50 }),
    ]);
    // list items carry their latest review: the comment needs no request per inspection
    const returnedItems = returned.items;
    const others = recent.items.filter((i) => i.status !== "returned");
    clear(body,
      returnedItems.length ? h("section", { "aria-labelledby": "returned-h" },
        h("h2", { id: "returned-h" }, t("returned_title")),
        h("ul", { class: "plain", id: "returned-list" }, returnedItems.map((item) => h("li", { class: "card" },
          h("div", { class: "row" }, h("strong", {}, item.village.name), badge(t("status_returned"), "warn")),
          h("p", {}, h("strong", {}, `${t("reviewer_comment")}: `), reviewComment(item) || t("none")),
          h("div", { class: "muted" }, `${t("observed_at")}: ${formatDateTime(item.observed_at)} · ${t("version", { v: item.version })}`),
          h("a", { class: "button-like", href: `#/edit/${item.id}` }, t("edit_resubmit")))))) : null,
      h("ul", { class: "plain" }, others.length ? others.map((item) => h("li", { class: "card" },
        h("div", { class: "row" }, h("strong", {}, `#${item.id} ${item.village.name}`),
          badge(t(`status_${item.status}`), STATUS_CLASS[item.status])),
        h("div", { class: "muted" }, `${t("observed_at")}: ${formatDateTime(item.observed_at)}`),
        reviewComment(item) ? h("p", {}, `${t("reviewer_comment")}: ${reviewComment(item)}`) : null))
        : returnedItems.length ? null : h("li", { class: "muted" }, t("mine_empty"))));
  } catch (err) {
    clear(body, h("p", { class: "error", role: "alert" }, errorText(err)));
  }
}
