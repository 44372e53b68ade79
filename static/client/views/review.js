// Reviewer: the queue with thumbnails and flag badges that say why, a photo viewer, decisions
// with a comment, bulk approval of unflagged items and keyboard shortcuts.
import { loadChecklist } from "../checklist.js";
import { pick, t } from "../i18n.js";
import { h } from "../ui.js";
import { commentDialog } from "./review/comment-dialog.js";
import { queueKeys } from "./review/keys.js";
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
  const aspectLabel = aspectTitles(await loadChecklist());
  const viewer = photoViewer(aspectLabel);
  const dialog = commentDialog((item, decision, comment) => queue.decide(item, decision, comment));
  const queue = reviewQueue({ aspectLabel, view: viewer.open, ask: dialog.ask });
  main.append(h("h1", {}, t("review_title")), h("p", { class: "muted shortcuts", id: "shortcuts" }, t("shortcuts")),
    h("div", { class: "actions" }, queue.bulkButton), queue.list, dialog.el, viewer.el);
  const onKey = queueKeys(queue, { ask: dialog.ask, view: viewer.open, busy: () => dialog.el.open || viewer.el.open });
  document.addEventListener("keydown", onKey);
  await queue.load();
  return () => document.removeEventListener("keydown", onKey);
}
