// Evidence side by side: the inspection under review and another one of the same village (its
// previous approved inspection, or the one a `photo_reused` flag names), each with its answers
// and photos.
import { api } from "../../api.js";
import { errorText, formatDateTime, t } from "../../i18n.js";
import { button, clear, h, spinner } from "../../ui.js";
import { answersView } from "../answers.js";
import { lazyThumb } from "./thumbs.js";

function photosOf(inspection) {
  return Object.entries(inspection.photos || {}).flatMap(([aspect, ids]) => ids.map((id) => ({ id, aspect })));
}

function column(title, inspection, checklist, aspectLabel) {
  return h("section", { class: "compare-column", dataset: { id: inspection.id } },
    h("h3", {}, title),
    h("p", { class: "muted" }, `#${inspection.id} · ${formatDateTime(inspection.observed_at)} · ${t(`status_${inspection.status}`)}`),
    h("div", { class: "thumbs" }, photosOf(inspection).map((p, i) =>
      lazyThumb(h("img", { alt: `${aspectLabel(p.aspect)} ${i + 1}`, width: 96, height: 96, dataset: { photo: p.id } })))),
    answersView(inspection.answers, checklist));
}

/** compareDialog(checklist, aspectLabel) → {el, open(currentId, otherId, otherTitle)}. */
export function compareDialog(checklist, aspectLabel) {
  const title = h("h2", { id: "compare-title" });
  const body = h("div", { class: "compare" });
  const el = h("dialog", { class: "viewer wide", id: "compare-dialog", "aria-labelledby": "compare-title" },
    h("div", { class: "row" }, title, button(t("close"), () => el.close(), { class: "secondary" })), body);

  async function open(currentId, otherId, otherTitle) {
    title.textContent = t("compare_title");
    clear(body, spinner());
    if (!el.open) el.showModal();
    try {
      const [current, other] = await Promise.all([api.get(`/inspections/${currentId}`), api.get(`/inspections/${otherId}`)]);
      clear(body, column(t("compare_current"), current, checklist, aspectLabel), column(otherTitle, other, checklist, aspectLabel));
    } catch (err) {
      clear(body, h("p", { class: "error", role: "alert" }, errorText(err)));
    }
  }

  return { el, open };
}
