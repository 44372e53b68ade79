// The answers of an inspection item by item, in the checklist's words (which of the four garbage
// items was 否, not only the metric), and what changed between two versions of them.
import { pick, t } from "../i18n.js";
import { h } from "../ui.js";

function valueText(item, value) {
  if (value === undefined || value === null) return "—";
  if (item.type === "boolean") return value ? `✓ ${t("yes_answer")}` : `✗ ${t("no_answer")}`;
  if (item.type === "choice") {
    const choice = item.choices.find((c) => c.value === value);
    return choice ? pick(choice) : String(value);
  }
  return String(value);
}

function valueClass(item, value) {
  if (item.type !== "boolean") return "";
  return value === true ? "yes" : value === false ? "no" : "";
}

/** <div class="answers"> with one block per answered aspect: each item and its answer. */
export function answersView(answers, checklist) {
  const aspects = checklist.filter((a) => answers && answers[a.aspect]);
  if (!aspects.length) return h("p", { class: "muted" }, t("no_answers"));
  return h("div", { class: "answers" }, aspects.map((aspect) => h("div", { class: "answer-aspect", dataset: { aspect: aspect.aspect } },
    h("h3", {}, pick(aspect, "title")),
    h("ul", { class: "answer-items" }, aspect.items.map((item) => {
      const value = answers[aspect.aspect][item.key];
      return h("li", { class: `answer ${valueClass(item, value)}`, dataset: { item: item.key } },
        h("span", { class: "answer-label" }, pick(item)), " ", h("strong", { class: "answer-value" }, valueText(item, value)));
    })))));
}

/** The differences between two versions: [{text}] for answers changed, aspects added or left out,
 *  photos added or removed. `before`/`after` are history versions ({answers, photos}). */
export function versionDiff(before, after, checklist, aspectLabel) {
  const changes = [];
  for (const aspect of checklist) {
    const key = aspect.aspect;
    const a = before.answers?.[key];
    const b = after.answers?.[key];
    if (!a && b) changes.push({ kind: "added", text: t("diff_aspect_added", { aspect: pick(aspect, "title") }) });
    else if (a && !b) changes.push({ kind: "removed", text: t("diff_aspect_removed", { aspect: pick(aspect, "title") }) });
    else if (a && b) {
      for (const item of aspect.items) {
        if (JSON.stringify(a[item.key] ?? null) !== JSON.stringify(b[item.key] ?? null)) {
          changes.push({ kind: "changed", text: t("diff_answer", { item: `${pick(aspect, "title")} · ${pick(item)}`,
                                                                   from: valueText(item, a[item.key]), to: valueText(item, b[item.key]) }) });
        }
      }
    }
    const pa = new Set(before.photos?.[key] || []);
    const pb = new Set(after.photos?.[key] || []);
    const added = [...pb].filter((p) => !pa.has(p)).length;
    const removed = [...pa].filter((p) => !pb.has(p)).length;
    if (added) changes.push({ kind: "added", text: t("diff_photos_added", { n: added, aspect: aspectLabel(key) }) });
    if (removed) changes.push({ kind: "removed", text: t("diff_photos_removed", { n: removed, aspect: aspectLabel(key) }) });
  }
  if ((before.notes || "") !== (after.notes || "")) changes.push({ kind: "changed", text: t("diff_notes") });
  return changes;
}

export function diffView(changes, version) {
  return h("div", { class: "diff", role: "note" },
    h("strong", {}, t("diff_title", { v: version })),
    changes.length ? h("ul", {}, changes.map((c) => h("li", { class: `diff-${c.kind}` }, c.text)))
      : h("p", { class: "muted" }, t("diff_none")));
}
