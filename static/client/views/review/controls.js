// The queue's sort, filters and search, on the screen: order (oldest, flagged, village, inspector),
// flag (any, none, one code), township, China-time dates and a text search on the village's name
// and the inspector. query() gives the GET /review-queue arguments.
import { allPages } from "../../api.js";
import { t } from "../../i18n.js";
import { button, field, h } from "../../ui.js";

const ORDERS = ["oldest", "flagged", "village", "inspector"];
const FLAGS = ["outside_village", "exif_location_far", "photo_stale", "photo_reused", "low_accuracy", "no_exif",
               "no_location", "clock_skew"];
const SEARCH_DELAY_MS = 350;

/** queueControls(onChange) → {el, query(), flag()}. */
export function queueControls(onChange) {
  const order = h("select", { name: "order", id: "queue-order" }, ORDERS.map((o) => h("option", { value: o }, t(`order_${o}`))));
  const flag = h("select", { name: "flag", id: "queue-flag" },
    h("option", { value: "" }, t("flag_all")), h("option", { value: "any" }, t("flag_any")), h("option", { value: "none" }, t("flag_none")),
    FLAGS.map((f) => h("option", { value: f }, t(`flagname_${f}`))));
  const township = h("select", { name: "township", id: "queue-township" }, h("option", { value: "" }, t("township_all")));
  const search = h("input", { type: "search", name: "q", id: "queue-q", autocomplete: "off", maxlength: 50,
                              placeholder: t("queue_search_hint") });
  const from = h("input", { type: "date", name: "from", id: "queue-from" });
  const to = h("input", { type: "date", name: "to", id: "queue-to" });
  let timer = null;
  for (const control of [order, flag, township, from, to]) control.addEventListener("change", () => onChange());
  search.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => onChange(), SEARCH_DELAY_MS);
  });
  search.addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      clearTimeout(timer);
      onChange();
    }
  });
  const reset = button(t("reset_filters"), () => {
    order.value = "oldest";
    for (const control of [flag, township, search, from, to]) control.value = "";
    onChange();
  }, { class: "secondary small", id: "queue-reset" });

  // the townships of the reviewer's scope (one for a township reviewer, so the choice is hidden)
  const townshipField = field(t("township"), township);
  townshipField.hidden = true;
  allPages("/divisions", { level: "township" }).then((items) => {
    township.append(...items.map((d) => h("option", { value: d.code }, d.name)));
    townshipField.hidden = items.length < 2;
  }).catch(() => {});

  // the search always shows; the rest folds away on a phone (open on a wider screen)
  const more = h("details", { class: "more-controls", open: window.matchMedia("(min-width: 48rem)").matches },
    h("summary", {}, t("queue_controls")),
    h("div", { class: "controls" }, field(t("order"), order), field(t("flags"), flag), townshipField,
      field(t("date_from"), from), field(t("date_to"), to), reset));
  const el = h("div", { class: "queue-controls", role: "search", "aria-label": t("queue_controls") },
    field(t("queue_search"), search), more);
  return {
    el,
    flag: () => flag.value,
    query: () => ({ order: order.value, flag: flag.value || undefined, township: township.value || undefined,
                    q: search.value.trim() || undefined, from: from.value || undefined, to: to.value || undefined }),
  };
}
