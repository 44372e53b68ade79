// One inspection of the review queue: who and where, its flags (a reused photo links to the other
// inspection), photo thumbnails (loaded when on screen), every checklist item answered, what changed
// since the version that was returned, the previous approved inspection, notes, and the buttons:
// map, side-by-side evidence, comments and history, and the decisions.
import { api } from "../../api.js";
import { flagText } from "../../flags.js";
import { formatDateTime, t } from "../../i18n.js";
import { badge, button, clear, h } from "../../ui.js";
import { answersView, diffView, versionDiff } from "../answers.js";
import { thumbButton } from "./thumbs.js";

function flagList(item, compare) {
  // while a photo's hash is still being made, "no flags" is not final: say so instead
  const pending = item.checks_pending ? h("li", { class: "checks-pending" }, badge(`⏳ ${t("checks_pending")}`, "warn")) : null;
  return h("ul", { class: "flags", "aria-label": t("flags") }, item.flags.length
    ? [...item.flags.map((f) => h("li", {}, badge(`⚠ ${flagText(f)}`, "warn"),
      f.code === "photo_reused" ? (f.facts?.other_inspection_ids || []).map((other) =>
        button(t("compare_with", { id: other }), () => compare(item, other, t("compare_reused", { id: other })),
          { class: "link reused-link", dataset: { other } })) : null)), pending]
    : pending || h("li", {}, badge(`✓ ${t("no_flags")}`, "ok")));
}

function decisionButtons(item, decide, ask, keys) {
  const key = (k) => (keys ? ` (${k})` : "");
  return h("div", { class: "actions" },
    button(`${t("approve")}${key("a")}`, () => decide(item, "approve"), { class: "ok-button", dataset: { decision: "approve" } }),
    button(`${t("reject")}${key("r")}`, () => ask(item, "reject"), { class: "bad-button", dataset: { decision: "reject" } }),
    button(`${t("return")}${key("s")}`, () => ask(item, "return"), { class: "secondary", dataset: { decision: "return" } }));
}

function whoAndWhen(item) {
  return [
    h("div", { class: "row" }, h("strong", {}, `#${item.id} ${item.village.name}`),
      h("span", { class: "muted" }, formatDateTime(item.observed_at))),
    h("div", { class: "muted" }, `${t("inspector")}: ${item.inspector?.display_name || item.inspector?.username || "—"}`,
      item.township.name ? ` · ${item.township.name}` : "",
      item.version > 1 ? ` · ${t("version", { v: item.version })}` : ""),
  ];
}

/** The changes of a resubmission against the version before it, loaded when the card is seen. */
function resubmissionDiff(item, checklist, aspectLabel) {
  const box = h("div", { class: "diff-box", dataset: { diffFor: item.id } }, h("span", { class: "muted" }, t("loading")));
  const observer = new IntersectionObserver(async (entries) => {
    if (!entries.some((e) => e.isIntersecting)) return;
    observer.disconnect();
    try {
      const history = await api.get(`/inspections/${item.id}/history`);
      const versions = history.versions;
      const after = versions.find((v) => v.version === item.version);
      const before = versions.find((v) => v.version === item.version - 1);
      clear(box, after && before ? diffView(versionDiff(before, after, checklist, aspectLabel), item.version - 1) : null);
    } catch {
      clear(box);
    }
  }, { rootMargin: "200px" });
  observer.observe(box);
  return box;
}

/** queueCard(item, {index, selected, checklist, aspectLabel, onfocus, view, decide, ask, map, compare, keys}) → the <li>. */
export function queueCard(item, { index, selected, checklist, aspectLabel, onfocus, view, decide, ask, map, compare, keys }) {
  const previous = item.previous_approved;
  return h("li", { class: `card review-item${selected ? " selected" : ""}`, tabindex: 0,
                   dataset: { id: item.id, index }, "aria-current": selected ? "true" : null, onfocus },
    whoAndWhen(item),
    flagList(item, compare),
    h("div", { class: "thumbs" }, item.photos.map((p, i) => thumbButton(p, i, aspectLabel, () => view(item, i)))),
    h("details", { class: "answers-box", open: true }, h("summary", {}, t("answers")), answersView(item.answers, checklist)),
    item.version > 1 ? resubmissionDiff(item, checklist, aspectLabel) : null,
    previous ? h("p", { class: "small" }, `${t("previous_approved")}: #${previous.id} · ${formatDateTime(previous.observed_at)} `,
      button(t("compare_previous"), () => compare(item, previous.id, t("previous_approved")), { class: "link", dataset: { action: "compare" } })) : null,
    item.notes ? h("p", {}, `${t("notes")}: ${item.notes}`) : null,
    h("div", { class: "actions card-tools" },
      button(t("map_where"), () => map(item), { class: "secondary small", dataset: { action: "map" } }),
      h("a", { class: "button-like small", href: `#/inspection/${item.id}`, dataset: { action: "detail" } }, t("comments_history"))),
    decisionButtons(item, decide, ask, keys));
}
