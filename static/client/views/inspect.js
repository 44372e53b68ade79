// Inspector: where am I, the checklist per aspect with photos, submit (through the outbox).
// Also edits a returned inspection (#/edit/{id}) and resubmits it with its version.
import { api } from "../api.js";
import { loadChecklist } from "../checklist.js";
import { errorText, formatDateTime, t } from "../i18n.js";
import { announce, clear, field, h, spinner } from "../ui.js";
import { aspectSection } from "./inspect/aspect.js";
import { problemOf, queueInspection } from "./inspect/submit.js";
import { loadVillages, wherePicker } from "./inspect/where.js";

function returnedNote(existing) {
  const comment = existing.latest_review?.comment;
  return h("div", { class: "card notice", role: "note" },
    h("strong", {}, `${t("reviewer_comment")}: `), comment || t("none"),
    h("div", { class: "muted" }, `${t("observed_at")}: ${formatDateTime(existing.observed_at)} · ${t("version", { v: existing.version })}`));
}

/** The form: heading, the reviewer's comment when editing, where, the aspects, notes, submit. */
function inspectionForm({ editId, existing, where, aspects, onQueued }) {
  const notes = h("textarea", { name: "notes", rows: 3, maxlength: 2000 });
  if (existing?.notes) notes.value = existing.notes;
  const error = h("p", { class: "error", role: "alert", hidden: true });
  const submit = h("button", { type: "submit", class: "primary big", id: "submit-inspection" }, editId ? t("resubmit") : t("submit"));
  const showError = (text) => { error.textContent = text; error.hidden = false; };

  async function onSubmit(event) {
    event.preventDefault();
    error.hidden = true;
    const problem = problemOf(where, aspects);
    if (problem) {
      showError(problem);
      error.focus?.();
      return;
    }
    submit.disabled = true;
    try {
      await queueInspection({ editId, existing, where, aspects, notes: notes.value });
      announce(t("submit_queued"));
      onQueued();
    } catch (err) {
      showError(errorText(err) || String(err));
    } finally {
      submit.disabled = false;
    }
  }

  const form = h("form", { novalidate: true, class: "inspect" },
    h("h1", {}, editId ? `${t("edit_resubmit")} #${editId}` : t("nav_inspect")),
    existing ? returnedNote(existing) : null,
    where.el, aspects.map((a) => a.el),
    h("section", { class: "card" }, field(t("notes"), notes)),
    error, submit);
  form.addEventListener("submit", onSubmit);
  return form;
}

export async function renderInspect(main, { params, go }) {
  const editId = params[0];
  main.append(spinner());
  const [checklist, villages, existing] = await Promise.all([
    loadChecklist(), loadVillages(), editId ? api.get(`/inspections/${editId}`).catch((e) => ({ error: e })) : null,
  ]);
  clear(main);
  if (existing?.error) {
    main.append(h("p", { class: "error", role: "alert" }, errorText(existing.error)));
    return;
  }
  const aspects = checklist.map((aspect) => aspectSection(aspect, existing));
  const where = wherePicker(villages, existing);
  main.append(inspectionForm({ editId, existing, where, aspects, onQueued: () => go("outbox") }));
  for (const a of aspects) a.photos.refresh();
}
