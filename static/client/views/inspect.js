// Inspector: where am I, the checklist per aspect with photos, submit (through the outbox).
// Three uses of one form: a new inspection (#/inspect, or #/inspect/{village} from the due list),
// a returned one edited and resubmitted with its version (#/edit/{id}), and an outbox item the
// server refused for a reason the inspector can fix (#/fix/{key}: "修改"). A new or returned form
// is kept as a draft while it is filled in (views/inspect/draft.js).
import { api, session } from "../api.js";
import { loadChecklist } from "../checklist.js";
import { errorText, formatDateTime, t } from "../i18n.js";
import { getItem } from "../outbox.js";
import { announce, button, clear, confirmDialog, field, h, spinner } from "../ui.js";
import { aspectSection } from "./inspect/aspect.js";
import { draftKey, draftSaver, loadDraft } from "./inspect/draft.js";
import { problemOf, queueInspection } from "./inspect/submit.js";
import { loadVillages, wherePicker } from "./inspect/where.js";

function returnedNote(existing) {
  const comment = existing.latest_review?.comment;
  return h("div", { class: "card notice", role: "note" },
    h("strong", {}, `${t("reviewer_comment")}: `), comment || t("none"),
    h("div", { class: "muted" }, `${t("observed_at")}: ${formatDateTime(existing.observed_at)} · ${t("version", { v: existing.version })}`));
}

function refusedNote(item) {
  return h("div", { class: "card notice", role: "note" },
    h("strong", {}, `${t("refused_because")}: `), errorText(item.last_error),
    h("div", { class: "muted" }, `${t("observed_at")}: ${formatDateTime(item.device_observed_at || item.payload.observed_at)}`));
}

/** The form's starting values from a returned inspection, an outbox item or a draft. */
function startFromInspection(existing) {
  const aspects = {};
  for (const [key, answers] of Object.entries(existing.answers || {})) {
    aspects[key] = { included: true, answers, kept: existing.photos?.[key] || [], added: [] };
  }
  const l = existing.location;
  return { village: existing.village.code, position: l ? { lat: l.lat, lon: l.lon, accuracy_m: l.accuracy_m } : null,
           notes: existing.notes || "", aspects, all: true };
}

function startFromItem(item) {
  const aspects = {};
  for (const [key, answers] of Object.entries(item.payload.answers || {})) {
    aspects[key] = { included: true, answers, kept: item.keep_photos?.[key] || [],
                     added: (item.photos || []).filter((p) => p.aspect === key) };
  }
  const l = item.payload.location;
  return { village: item.payload.village, position: l ? { lat: l.lat, lon: l.lon, accuracy_m: l.accuracy_m } : null,
           notes: item.payload.notes || "", aspects, all: true };
}

/** The form: heading, a note (reviewer's comment, refusal, restored draft), where, the aspects, notes, submit. */
function inspectionForm({ mode, editId, existing, item, start, checklist, villages, draftNote, onChange, onQueued }) {
  const aspects = checklist.map((aspect) => aspectSection(aspect,
    start.aspects?.[aspect.aspect] || (start.all ? { included: false } : undefined), onChange));
  const where = wherePicker(villages, start, onChange);
  const notes = h("textarea", { name: "notes", rows: 3, maxlength: 2000 });
  notes.value = start.notes || "";
  const error = h("p", { class: "error", role: "alert", hidden: true, tabindex: -1 });
  const label = mode === "edit" ? t("resubmit") : mode === "fix" ? t("save_and_resend") : t("submit");
  const submit = h("button", { type: "submit", class: "primary big", id: "submit-inspection" }, label);
  const showError = (text) => { error.textContent = text; error.hidden = false; error.focus(); };

  async function onSubmit(event) {
    event.preventDefault();
    error.hidden = true;
    const problem = problemOf(where, aspects);
    if (problem) {
      showError(problem);
      return;
    }
    submit.disabled = true;
    try {
      await queueInspection({ mode, editId, existing, item, where, aspects, notes: notes.value });
      announce(where.position() ? t("submit_queued") : `${t("submit_queued")} ${t("submit_without_location")}`);
      await onQueued();
    } catch (err) {
      showError(errorText(err) || String(err));
    } finally {
      submit.disabled = false;
    }
  }

  const heading = mode === "edit" ? `${t("edit_resubmit")} #${editId}` : mode === "fix" ? t("fix_title") : t("nav_inspect");
  const form = h("form", { novalidate: true, class: "inspect" },
    h("h1", {}, heading),
    draftNote,
    existing ? returnedNote(existing) : null,
    item ? refusedNote(item) : null,
    where.el, aspects.map((a) => a.el),
    h("section", { class: "card" }, field(t("notes"), notes)),
    error, submit);
  form.addEventListener("submit", onSubmit);
  form.addEventListener("input", onChange);
  form.addEventListener("change", onChange);
  for (const a of aspects) a.photos.refresh();
  return {
    form,
    state: () => ({ village: where.village(), position: where.position(), notes: notes.value,
                    aspects: Object.fromEntries(aspects.map((a) => [a.key, a.state()])), all: true }),
  };
}

async function loadSubject(mode, key) {
  if (mode === "edit") return { existing: await api.get(`/inspections/${key}`) };
  if (mode === "fix") {
    const item = await getItem(key);
    if (!item) throw new Error(t("outbox_item_gone"));
    return { item };
  }
  return {};
}

export async function renderInspect(main, { params, go, mode = "new" }) {
  const editId = mode === "edit" ? params[0] : null;
  main.append(spinner());
  const [checklist, villages, subject] = await Promise.all([
    loadChecklist(), loadVillages(), loadSubject(mode, params[0]).catch((e) => ({ error: e })),
  ]);
  if (subject.error) {
    clear(main, h("p", { class: "error", role: "alert" }, errorText(subject.error) || String(subject.error)));
    return null;
  }
  const { existing, item } = subject;
  const formKey = mode === "new" ? "new" : mode === "edit" ? `edit:${editId}:${existing.version}` : null;
  const key = formKey && session.me ? draftKey(session.me, formKey) : null;
  let draft = key ? await loadDraft(key) : null;
  if (draft && mode === "new" && params[0] && draft.village !== params[0]) draft = null; // another village chosen from the due list
  const start = draft || (existing ? startFromInspection(existing) : item ? startFromItem(item) : { village: params[0] || "" });

  let built = null;
  const saver = key ? draftSaver(key, () => built.state()) : null;
  const draftNote = draft ? h("div", { class: "card notice draft-note", role: "note", id: "draft-note" },
    t("draft_restored", { time: formatDateTime(draft.saved_at) }), " ",
    button(t("draft_discard"), async () => {
      if (!(await confirmDialog(t("draft_discard_confirm"), { confirm: t("draft_discard"), danger: true }))) return;
      await saver.discard();
      announce(t("draft_discarded"));
      go(mode === "edit" ? "edit" : "inspect", ...(mode === "edit" ? [editId] : []));
    }, { class: "small secondary", id: "discard-draft" })) : null;

  built = inspectionForm({
    mode, editId, existing, item, start, checklist, villages, draftNote,
    onChange: () => saver?.schedule(),
    onQueued: async () => {
      if (saver) await saver.discard();
      go("outbox");
    },
  });
  clear(main, built.form);
  const onHide = () => { if (document.visibilityState === "hidden") saver?.flush(); };
  document.addEventListener("visibilitychange", onHide);
  return () => {
    document.removeEventListener("visibilitychange", onHide);
    saver?.flush();
  };
}
