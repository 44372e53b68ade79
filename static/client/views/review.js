// Reviewer: the whole queue a page at a time with its totals, sort, filters and search; cards with
// every answer, what a resubmission changed, thumbnails that load when seen; a map per inspection,
// evidence side by side, the photo viewer with each photo's facts; decisions with a comment, bulk
// approval that asks first, and keyboard shortcuts (hinted only on devices with a keyboard).
import { loadChecklist } from "../checklist.js";
import { pick, t } from "../i18n.js";
import { h, hasKeyboard } from "../ui.js";
import { commentDialog } from "./review/comment-dialog.js";
import { compareDialog } from "./review/compare-dialog.js";
import { queueControls } from "./review/controls.js";
import { queueKeys } from "./review/keys.js";
import { mapDialog } from "./review/map-dialog.js";
import { photoViewer } from "./review/photo-viewer.js";
import { reviewQueue } from "./review/queue.js";

/** aspect key → its title in the current language. */
function aspectTitles(aspects) {
  return (key) => {
    const aspect = aspects.find((a) => a.aspect === key);
    return aspect ? pick(aspect, "title") : key;
  };
}

export async function renderReview(main) {
  const checklist = await loadChecklist();
  const aspectLabel = aspectTitles(checklist);
  const keys = hasKeyboard();
  const dialog = commentDialog((item, decision, comment) => queue.decide(item, decision, comment));
  const viewer = photoViewer(aspectLabel, { decide: (item, decision) => queue.decide(item, decision), ask: dialog.ask, original: true });
  const map = mapDialog(aspectLabel);
  const compare = compareDialog(checklist, aspectLabel);
  const controls = queueControls(() => queue.load(1));
  const queue = reviewQueue({
    checklist, aspectLabel, view: viewer.open, ask: dialog.ask, map: map.open, keys,
    compare: (item, otherId, title) => compare.open(item.id, otherId, title), query: controls.query,
  });
  main.append(h("h1", {}, t("review_title")),
    ...(keys ? [h("p", { class: "muted shortcuts", id: "shortcuts" }, t("shortcuts"))] : []),
    controls.el, queue.summary,
    h("div", { class: "actions" }, queue.bulkButton), queue.bulkResult,
    queue.list, queue.pager, dialog.el, viewer.el, map.el, compare.el);
  const busy = () => [dialog.el, viewer.el, map.el, compare.el].some((d) => d.open) || Boolean(document.querySelector("dialog.confirm[open]"));
  const onKey = queueKeys(queue, { ask: dialog.ask, view: viewer.open, busy });
  document.addEventListener("keydown", onKey);
  await queue.load(1);
  return () => document.removeEventListener("keydown", onKey);
}
