// One inspection (#/inspection/{id}): its status, answers item by item, photos, flags, the
// reviewer's comment, the comment thread, the history (every version, review and audit entry) and,
// for the bureau, reopening a decided one with a reason. Its inspector, and reviewers and above in
// scope, may open it; the last copy fetched is shown offline and marked as such.
import { api, session } from "../api.js";
import { loadChecklist } from "../checklist.js";
import { distanceText, flagText } from "../flags.js";
import { errorText, formatDateTime, pick, t } from "../i18n.js";
import { announce, badge, button, clear, field, h, spinner } from "../ui.js";
import { answersView } from "./answers.js";
import { STATUS_CLASS } from "./mine.js";
import { offlineNote, readCopy, writeCopy } from "./offline-copy.js";
import { photoViewer } from "./review/photo-viewer.js";
import { thumbButton } from "./review/thumbs.js";

const AUDIT_ACTIONS = ["submitted", "resubmitted", "approved", "rejected", "returned", "reopened", "commented"];

function photosOf(inspection) {
  return Object.entries(inspection.photos || {}).flatMap(([aspect, ids]) => ids.map((id) => ({ id, aspect })));
}

function whoText(user) {
  return user ? (user.display_name || user.username) : "—";
}

function historyView(history) {
  const entries = [
    ...history.versions.map((v) => ({ at: v.created_at, text: t("history_version", { v: v.version, n: v.flags?.length || 0 }) })),
    ...history.audit.map((a) => {
      const action = a.action.replace("inspection.", "");
      const what = AUDIT_ACTIONS.includes(action) ? t(`audit_${action}`) : a.action;
      return { at: a.at, text: `${what} · ${whoText(a.actor)}${a.comment ? ` · ${a.comment}` : ""}` };
    }),
  ].sort((a, b) => String(a.at).localeCompare(String(b.at)));
  return h("ol", { class: "history", id: "history-list" }, entries.map((e) =>
    h("li", {}, h("span", { class: "muted" }, formatDateTime(e.at)), " ", e.text)));
}

function commentsView(inspectionId, comments, reload) {
  const box = h("textarea", { name: "comment-body", rows: 2, maxlength: 2000 });
  const error = h("p", { class: "error", role: "alert", hidden: true });
  const form = h("form", { class: "comment-form", novalidate: true }, field(t("add_comment"), box), error,
    h("button", { type: "submit", class: "primary small" }, t("send_comment")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    if (!box.value.trim()) return;
    try {
      await api.post(`/inspections/${inspectionId}/comments`, { body: box.value.trim() });
      announce(t("comment_sent"), "ok");
      await reload();
    } catch (err) {
      error.textContent = errorText(err);
      error.hidden = false;
    }
  });
  return [h("ul", { class: "plain comments", id: "comment-list" }, comments.length ? comments.map((c) =>
    h("li", { class: "comment" }, h("strong", {}, whoText(c.author)), h("span", { class: "muted" }, ` ${formatDateTime(c.created_at)}`),
      h("p", {}, c.body))) : h("li", { class: "muted" }, t("no_comments"))), navigator.onLine ? form : null];
}

function reopenView(inspection, reload) {
  const reason = h("textarea", { name: "reopen-reason", rows: 2, maxlength: 2000 });
  const error = h("p", { class: "error", role: "alert", hidden: true });
  const form = h("form", { class: "reopen-form", novalidate: true }, field(t("reopen_reason"), reason), error,
    h("button", { type: "submit", class: "secondary" }, t("reopen")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!reason.value.trim()) {
      error.textContent = t("reopen_reason_required");
      error.hidden = false;
      return;
    }
    try {
      await api.post(`/inspections/${inspection.id}/reopen`, { reason: reason.value.trim(), version: inspection.version });
      announce(t("reopened"), "ok");
      await reload();
    } catch (err) {
      error.textContent = errorText(err);
      error.hidden = false;
    }
  });
  return h("section", { class: "card", "aria-labelledby": "reopen-h" }, h("h2", { id: "reopen-h" }, t("reopen")), form);
}

export async function renderInspection(main, { params }) {
  const id = params[0];
  const me = session.me;
  const checklist = await loadChecklist();
  const aspectLabel = (key) => { const a = checklist.find((x) => x.aspect === key); return a ? pick(a, "title") : key; };
  const viewer = photoViewer(aspectLabel, { original: me?.role !== "inspector" });
  const body = h("div", {}, spinner());
  main.append(body, viewer.el);

  async function load() {
    let inspection;
    let extra = { comments: [], history: null };
    let copy = null;
    try {
      inspection = await api.get(`/inspections/${id}`);
      const [comments, history] = await Promise.all([
        api.get(`/inspections/${id}/comments`).then((r) => r.items).catch(() => []),
        api.get(`/inspections/${id}/history`).catch(() => null),
      ]);
      extra = { comments, history };
      writeCopy(`inspection.${me?.id}.${id}`, { inspection, ...extra });
    } catch (err) {
      copy = err.network ? readCopy(`inspection.${me?.id}.${id}`) : null;
      if (!copy) {
        clear(body, h("p", { class: "error", role: "alert" }, errorText(err)));
        return;
      }
      ({ inspection } = copy.data);
      extra = copy.data;
    }
    const photos = photosOf(inspection);
    const item = { ...inspection, photos };
    const review = inspection.latest_review;
    const canReopen = ["bureau", "admin"].includes(me?.role) && ["approved", "rejected"].includes(inspection.status) && !copy;
    clear(body,
      h("h1", {}, `#${inspection.id} ${inspection.village.name}`),
      copy ? offlineNote(copy) : null,
      h("section", { class: "card", id: "inspection-summary" },
        h("div", { class: "row" }, badge(t(`status_${inspection.status}`), STATUS_CLASS[inspection.status]),
          h("span", { class: "muted" }, t("version", { v: inspection.version }))),
        h("div", { class: "muted" }, `${t("observed_at")}: ${formatDateTime(inspection.observed_at)} · ${t("inspector")}: ${whoText(inspection.inspector)}`),
        h("div", { class: "muted" }, inspection.location
          ? `${t("location")}: ${inspection.location.lat.toFixed(5)}, ${inspection.location.lon.toFixed(5)} (${t("accuracy", { accuracy: distanceText(inspection.location.accuracy_m) })})`
          : t("without_location")),
        review ? h("p", { class: "review-comment" }, h("strong", {}, `${t("reviewer_comment")} (${t(review.decision)}): `),
          review.comment || t("none")) : null,
        h("ul", { class: "flags", "aria-label": t("flags") },
          inspection.flags.map((f) => h("li", {}, badge(`⚠ ${flagText(f)}`, "warn"))),
          inspection.checks_pending ? h("li", { class: "checks-pending" }, badge(`⏳ ${t("checks_pending")}`, "warn"))
            : inspection.flags.length ? null : h("li", {}, badge(`✓ ${t("no_flags")}`, "ok"))),
        inspection.status === "returned" && me?.role === "inspector"
          ? h("a", { class: "button-like", href: `#/edit/${inspection.id}` }, t("edit_resubmit")) : null),
      h("section", { class: "card", "aria-labelledby": "answers-h" }, h("h2", { id: "answers-h" }, t("answers")),
        answersView(inspection.answers, checklist),
        inspection.notes ? h("p", {}, `${t("notes")}: ${inspection.notes}`) : null),
      h("section", { class: "card", "aria-labelledby": "photos-h" }, h("h2", { id: "photos-h" }, t("photos")),
        photos.length ? h("div", { class: "thumbs" }, photos.map((p, i) => thumbButton(p, i, aspectLabel, () => viewer.open(item, i))))
          : h("p", { class: "muted" }, t("none"))),
      h("section", { class: "card", "aria-labelledby": "comments-h" }, h("h2", { id: "comments-h" }, t("comments")),
        commentsView(inspection.id, extra.comments || [], load)),
      extra.history ? h("section", { class: "card", "aria-labelledby": "history-h" }, h("h2", { id: "history-h" }, t("history")),
        historyView(extra.history)) : null,
      canReopen ? reopenView(inspection, load) : null);
  }

  await load();
}
