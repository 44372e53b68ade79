// Reviewer: the queue with thumbnails and flag badges that say why, a photo viewer, decisions
// with a comment, bulk approval of unflagged items and keyboard shortcuts.
import { api, photoUrl } from "../api.js";
import { errorText, formatDateTime, pick, t } from "../i18n.js";
import { announce, badge, button, clear, field, h, spinner } from "../ui.js";
import { loadChecklist } from "../checklist.js";
import { flagText } from "../flags.js";

const DECISION_LABEL = { approve: "approve", reject: "reject", return: "return" };

/** Photo ids of an inspection as [{id, aspect}], whatever the list shape. */
export function photosOf(item) {
  const out = [];
  const photos = item.photos || {};
  if (Array.isArray(photos)) {
    for (const p of photos) out.push({ id: p.id ?? p.photo_id ?? p, aspect: p.aspect || "" });
  } else {
    for (const [aspect, list] of Object.entries(photos)) {
      for (const p of list || []) out.push({ id: typeof p === "string" ? p : p.id ?? p.photo_id, aspect });
    }
  }
  return out.filter((p) => p.id);
}

function villageName(item) {
  return item.village?.name || item.village_name || item.village_code || item.village;
}

export async function renderReview(main) {
  const checklist = await loadChecklist();
  const aspectLabel = (key) => pick(checklist.find((a) => a.key === key)) || key;

  const list = h("ol", { class: "queue", id: "queue", "aria-label": t("review_title") });
  const bulk = button("", bulkApprove, { id: "bulk-approve", class: "secondary" });
  const help = h("p", { class: "muted shortcuts", id: "shortcuts" }, t("shortcuts"));
  main.append(h("h1", {}, t("review_title")), help, h("div", { class: "actions" }, bulk), list);
  let items = [];
  let selected = 0;

  async function load() {
    clear(list, spinner());
    try {
      const data = await api.get("/review-queue", { per_page: 100 });
      items = Array.isArray(data) ? data : data.items || [];
    } catch (err) {
      clear(list, h("li", { class: "error", role: "alert" }, errorText(err)));
      return;
    }
    render();
  }

  function unflagged() {
    return items.filter((i) => !(i.flags || []).length && !(i.flag_count > 0));
  }

  function render() {
    const n = unflagged().length;
    bulk.textContent = t("bulk_approve", { n });
    bulk.disabled = n === 0;
    if (!items.length) {
      clear(list, h("li", { class: "muted" }, t("queue_empty")));
      return;
    }
    selected = Math.min(selected, items.length - 1);
    clear(list, items.map((item, index) => card(item, index)));
  }

  function card(item, index) {
    const photos = photosOf(item);
    const thumbs = h("div", { class: "thumbs" }, photos.slice(0, 4).map((p, i) => {
      const img = h("img", { alt: `${aspectLabel(p.aspect)} ${i + 1}`, width: 96, height: 96, loading: "lazy" });
      photoUrl(p.id, "thumb").then((u) => { img.src = u; }).catch(() => { img.alt += " ✗"; });
      return h("button", { type: "button", class: "thumb", onclick: () => openViewer(item, i),
                           "aria-label": `${t("photo_viewer")}: ${aspectLabel(p.aspect)} ${i + 1}` }, img);
    }));
    const flags = item.flags || [];
    const li = h("li", { class: `card review-item${index === selected ? " selected" : ""}`, tabindex: 0,
                         dataset: { id: item.id, index }, "aria-current": index === selected ? "true" : null,
                         onfocus: () => select(index, false) },
      h("div", { class: "row" }, h("strong", {}, `#${item.id} ${villageName(item)}`),
        h("span", { class: "muted" }, formatDateTime(item.observed_at))),
      h("div", { class: "muted" }, `${t("inspector")}: ${item.inspector?.display_name || item.inspector?.username || "—"}`,
        item.township?.name ? ` · ${item.township.name}` : "",
        item.version > 1 ? ` · ${t("version", { v: item.version })}` : ""),
      h("ul", { class: "flags", "aria-label": t("flags") }, flags.length
        ? flags.map((f) => h("li", {}, badge(`⚠ ${flagText(f)}`, "warn")))
        : h("li", {}, badge(`✓ ${t("no_flags")}`, "ok"))),
      thumbs,
      h("ul", { class: "metrics", "aria-label": t("answers") }, Object.entries(item.metrics || {})
        .filter(([, v]) => v !== null && v !== undefined)
        .map(([m, v]) => h("li", {}, badge(`${v ? "✓" : "✗"} ${t(`metric_${m}`)}: ${v ? t("legend_met") : t("legend_not_met")}`, v ? "ok" : "bad")))),
      item.previous_approved ? h("p", { class: "small" }, `${t("previous_approved")}: #${item.previous_approved.id} · `
        + formatDateTime(item.previous_approved.observed_at)) : null,
      item.notes ? h("p", {}, `${t("notes")}: ${item.notes}`) : null,
      h("div", { class: "actions" },
        button(`${t("approve")} (a)`, () => decide(item, "approve"), { class: "ok-button", dataset: { decision: "approve" } }),
        button(`${t("reject")} (r)`, () => askComment(item, "reject"), { class: "bad-button", dataset: { decision: "reject" } }),
        button(`${t("return")} (s)`, () => askComment(item, "return"), { class: "secondary", dataset: { decision: "return" } })));
    return li;
  }

  function select(index, focus = true) {
    if (!items.length) return;
    selected = Math.max(0, Math.min(items.length - 1, index));
    for (const el of list.querySelectorAll(".review-item")) {
      const on = Number(el.dataset.index) === selected;
      el.classList.toggle("selected", on);
      if (on) el.setAttribute("aria-current", "true");
      else el.removeAttribute("aria-current");
      if (on && focus) el.focus();
    }
  }

  async function decide(item, decision, comment = "") {
    try {
      await api.post(`/inspections/${item.id}/review`, { decision, comment: comment || undefined, version: item.version });
      items = items.filter((i) => i.id !== item.id);
      announce(t("decided", { decision: t(DECISION_LABEL[decision]) }), "ok");
      render();
      select(selected);
    } catch (err) {
      announce(errorText(err), "error");
      if (err.status === 409 || err.status === 404) await load();
    }
  }

  // --- comment dialog (reject / send back) ---------------------------------------------------
  const commentBox = h("textarea", { rows: 4, name: "comment", required: true });
  const commentError = h("p", { class: "error", role: "alert", hidden: true });
  const dialogTitle = h("h2", { id: "decision-title" });
  const confirm = h("button", { type: "submit", class: "primary" });
  const dialog = h("dialog", { "aria-labelledby": "decision-title", id: "decision-dialog" },
    h("form", { method: "dialog" }, dialogTitle, field(t("comment"), commentBox), commentError,
      h("div", { class: "actions" }, confirm, button(t("cancel"), () => dialog.close(), { class: "secondary" }))));
  main.append(dialog);
  let pending = null;
  dialog.querySelector("form").addEventListener("submit", (event) => {
    event.preventDefault();
    if (!commentBox.value.trim()) {
      commentError.textContent = t("comment_required");
      commentError.hidden = false;
      return;
    }
    dialog.close();
    decide(pending.item, pending.decision, commentBox.value.trim());
  });
  commentBox.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) dialog.querySelector("form").requestSubmit();
  });

  function askComment(item, decision) {
    pending = { item, decision };
    dialogTitle.textContent = `${t(DECISION_LABEL[decision])} · #${item.id} ${villageName(item)}`;
    confirm.textContent = t(DECISION_LABEL[decision]);
    commentBox.value = "";
    commentError.hidden = true;
    dialog.showModal();
    commentBox.focus();
  }

  // --- photo viewer ------------------------------------------------------------------------------
  const viewerImg = h("img", { alt: "" });
  const viewerCaption = h("p", { class: "muted", "aria-live": "polite" });
  let viewing = null;
  const viewer = h("dialog", { class: "viewer", "aria-label": t("photo_viewer"), id: "photo-viewer" },
    h("div", { class: "row" }, h("h2", {}, t("photo_viewer")), button(t("close"), () => viewer.close(), { class: "secondary" })),
    viewerImg, viewerCaption,
    h("div", { class: "actions" }, button(`← ${t("prev_photo")}`, () => step(-1)), button(`${t("next_photo")} →`, () => step(1))));
  viewer.addEventListener("keydown", (event) => {
    if (event.key === "ArrowLeft") step(-1);
    if (event.key === "ArrowRight") step(1);
  });
  main.append(viewer);

  function openViewer(item, index = 0) {
    const photos = photosOf(item);
    if (!photos.length) return;
    viewing = { item, photos, index };
    show();
    if (!viewer.open) viewer.showModal();
  }

  function step(delta) {
    if (!viewing) return;
    viewing.index = (viewing.index + delta + viewing.photos.length) % viewing.photos.length;
    show();
  }

  function show() {
    const p = viewing.photos[viewing.index];
    viewerImg.alt = `${aspectLabel(p.aspect)} ${viewing.index + 1}/${viewing.photos.length}`;
    viewerImg.removeAttribute("src");
    photoUrl(p.id, "display").then((u) => { if (viewing.photos[viewing.index] === p) viewerImg.src = u; });
    const flags = (viewing.item.flags || []).map(flagText).join("；");
    viewerCaption.textContent = `#${viewing.item.id} ${villageName(viewing.item)} · ${aspectLabel(p.aspect)} `
      + `${viewing.index + 1}/${viewing.photos.length}${flags ? ` · ⚠ ${flags}` : ""}`;
  }

  // --- bulk ----------------------------------------------------------------------------------
  async function bulkApprove() {
    const chosen = unflagged();
    if (!chosen.length) return;
    bulk.disabled = true;
    try {
      const result = await api.post("/reviews/bulk", { decision: "approve", ids: chosen.map((i) => i.id) });
      const done = result.succeeded ?? chosen.length;
      announce(t("bulk_done", { n: done }), "ok");
    } catch (err) {
      announce(errorText(err), "error");
    }
    await load();
  }

  // --- keys --------------------------------------------------------------------------------
  function onKey(event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    if (dialog.open || viewer.open) return;
    const tag = event.target.tagName;
    if (["INPUT", "TEXTAREA", "SELECT"].includes(tag)) return;
    const item = items[selected];
    const actions = {
      j: () => select(selected + 1),
      k: () => select(selected - 1),
      a: () => item && decide(item, "approve"),
      r: () => item && askComment(item, "reject"),
      s: () => item && askComment(item, "return"),
      Enter: () => item && openViewer(item, 0),
      v: () => item && openViewer(item, 0),
    };
    if (event.key === "Enter" && !event.target.classList?.contains("review-item")) return;
    const action = actions[event.key];
    if (action) {
      event.preventDefault();
      action();
    }
  }
  document.addEventListener("keydown", onKey);

  await load();
  return () => document.removeEventListener("keydown", onKey);
}
