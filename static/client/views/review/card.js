// One inspection of the review queue: who and where, its flags, photo thumbnails, metrics, the
// previous approved inspection, notes, and the decision buttons.
import { photoUrl } from "../../api.js";
import { flagText } from "../../flags.js";
import { formatDateTime, t } from "../../i18n.js";
import { badge, button, h } from "../../ui.js";

function thumbnails(item, aspectLabel, view) {
  return h("div", { class: "thumbs" }, item.photos.slice(0, 4).map((p, i) => {
    const img = h("img", { alt: `${aspectLabel(p.aspect)} ${i + 1}`, width: 96, height: 96, loading: "lazy" });
    photoUrl(p.id, "thumb").then((u) => { img.src = u; }).catch(() => { img.alt += " ✗"; });
    return h("button", { type: "button", class: "thumb", onclick: () => view(item, i),
                         "aria-label": `${t("photo_viewer")}: ${aspectLabel(p.aspect)} ${i + 1}` }, img);
  }));
}

function flagList(flags) {
  return h("ul", { class: "flags", "aria-label": t("flags") }, flags.length
    ? flags.map((f) => h("li", {}, badge(`⚠ ${flagText(f)}`, "warn")))
    : h("li", {}, badge(`✓ ${t("no_flags")}`, "ok")));
}

function metricList(metrics) {
  return h("ul", { class: "metrics", "aria-label": t("answers") }, Object.entries(metrics)
    .filter(([, v]) => v !== null)
    .map(([m, v]) => h("li", {}, badge(`${v ? "✓" : "✗"} ${t(`metric_${m}`)}: ${v ? t("legend_met") : t("legend_not_met")}`,
      v ? "ok" : "bad"))));
}

function decisionButtons(item, decide, ask) {
  return h("div", { class: "actions" },
    button(`${t("approve")} (a)`, () => decide(item, "approve"), { class: "ok-button", dataset: { decision: "approve" } }),
    button(`${t("reject")} (r)`, () => ask(item, "reject"), { class: "bad-button", dataset: { decision: "reject" } }),
    button(`${t("return")} (s)`, () => ask(item, "return"), { class: "secondary", dataset: { decision: "return" } }));
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

/** queueCard(item, {index, selected, aspectLabel, onfocus, view, decide, ask}) → the <li>. */
export function queueCard(item, { index, selected, aspectLabel, onfocus, view, decide, ask }) {
  const previous = item.previous_approved;
  return h("li", { class: `card review-item${selected ? " selected" : ""}`, tabindex: 0,
                   dataset: { id: item.id, index }, "aria-current": selected ? "true" : null, onfocus },
    whoAndWhen(item),
    flagList(item.flags),
    thumbnails(item, aspectLabel, view),
    metricList(item.metrics),
    previous ? h("p", { class: "small" }, `${t("previous_approved")}: #${previous.id} · ${formatDateTime(previous.observed_at)}`) : null,
    item.notes ? h("p", {}, `${t("notes")}: ${item.notes}`) : null,
    decisionButtons(item, decide, ask));
}
