// The photo viewer: one inspection's photos at display size with each photo's own facts (its flags:
// which photo is far, which is old; its EXIF time and its distance from the submitted location),
// zoom, the original for reviewers, the decision buttons; ← → or a swipe to step.
import { photoUrl } from "../../api.js";
import { distanceText, haversine, photoFlagTexts } from "../../flags.js";
import { formatDateTime, t } from "../../i18n.js";
import { button, clear, h, hasKeyboard } from "../../ui.js";

const SWIPE_PX = 50;

function photoFacts(item, p) {
  const facts = [];
  if (p.taken_at) facts.push(t("photo_taken_at", { time: formatDateTime(p.taken_at) }));
  else if (p.taken_at === null) facts.push(t("photo_no_time"));
  const far = (item.flags || []).some((f) => f.code === "exif_location_far" && (f.facts?.photos || []).some((x) => x.photo_id === p.id));
  if (far) {
    // the flag below says it, with the distance
  } else if (p.exif_lat !== undefined && p.exif_lat !== null && item.location) {
    facts.push(t("photo_distance", { distance: distanceText(haversine(item.location.lat, item.location.lon, p.exif_lat, p.exif_lon)) }));
  } else if (p.exif_lat === null) {
    facts.push(t("photo_no_gps"));
  }
  return [...facts, ...photoFlagTexts(item.flags, p.id).map((text) => `⚠ ${text}`)];
}

/** photoViewer(aspectLabel, {decide, ask, original}) → {el, open(item, index)}; without `decide`
 *  no decision buttons, without `original` no original. */
export function photoViewer(aspectLabel, { decide = null, ask = null, original = false } = {}) {
  const img = h("img", { alt: "", draggable: "false" }); // a drag would swallow the swipe
  const frame = h("div", { class: "viewer-frame", id: "viewer-frame" }, img);
  const caption = h("p", { class: "muted viewer-caption", "aria-live": "polite" });
  const facts = h("ul", { class: "photo-facts", id: "photo-facts", "aria-label": t("photo_facts") });
  const zoom = button(t("zoom_in"), () => setZoom(!frame.classList.contains("zoomed")), { class: "secondary small", id: "viewer-zoom" });
  const originalButton = original ? button(t("show_original"), showOriginal, { class: "secondary small", id: "viewer-original" }) : null;
  const decisions = decide ? h("div", { class: "actions viewer-decisions" },
    button(t("approve"), () => act((item) => decide(item, "approve")), { class: "ok-button", dataset: { decision: "approve" } }),
    button(t("reject"), () => act((item) => ask(item, "reject")), { class: "bad-button", dataset: { decision: "reject" } }),
    button(t("return"), () => act((item) => ask(item, "return")), { class: "secondary", dataset: { decision: "return" } })) : null;
  const el = h("dialog", { class: "viewer", "aria-label": t("photo_viewer"), id: "photo-viewer" },
    h("div", { class: "row" }, h("h2", {}, t("photo_viewer")), button(t("close"), () => el.close(), { class: "secondary" })),
    frame, caption, facts,
    h("div", { class: "actions" }, button(`← ${t("prev_photo")}`, () => step(-1)), button(`${t("next_photo")} →`, () => step(1)),
      zoom, originalButton),
    hasKeyboard() ? h("p", { class: "small" }, t("viewer_keys")) : null,
    decisions);
  el.addEventListener("keydown", (event) => {
    if (event.key === "ArrowLeft") step(-1);
    if (event.key === "ArrowRight") step(1);
  });
  let startX = null;
  frame.addEventListener("dragstart", (event) => event.preventDefault());
  frame.addEventListener("pointerdown", (event) => { startX = event.clientX; });
  frame.addEventListener("pointerup", (event) => {
    if (startX === null || frame.classList.contains("zoomed")) { startX = null; return; }
    const dx = event.clientX - startX;
    startX = null;
    if (Math.abs(dx) >= SWIPE_PX) step(dx < 0 ? 1 : -1);
  });
  frame.addEventListener("dblclick", () => setZoom(!frame.classList.contains("zoomed")));
  let viewing = null; // {item, index}

  function setZoom(on) {
    frame.classList.toggle("zoomed", on);
    zoom.textContent = on ? t("zoom_out") : t("zoom_in");
    zoom.setAttribute("aria-pressed", on ? "true" : "false");
  }

  function act(fn) {
    const { item } = viewing;
    el.close();
    fn(item);
  }

  function show() {
    const { item, index } = viewing;
    const p = item.photos[index];
    const position = `${index + 1}/${item.photos.length}`;
    img.alt = `${aspectLabel(p.aspect)} ${position}`;
    img.removeAttribute("src");
    setZoom(false);
    photoUrl(p.id, "display").then((u) => { if (viewing.item.photos[viewing.index] === p) img.src = u; });
    caption.textContent = `#${item.id} ${item.village.name} · ${aspectLabel(p.aspect)} ${position}`;
    const list = photoFacts(item, p);
    clear(facts, list.map((text) => h("li", { class: text.startsWith("⚠") ? "warn-text" : "" }, text)));
    if (originalButton) originalButton.disabled = false;
  }

  async function showOriginal() {
    const p = viewing.item.photos[viewing.index];
    originalButton.disabled = true;
    try {
      const url = await photoUrl(p.id, "original");
      if (viewing.item.photos[viewing.index] !== p) return;
      img.src = url;
      setZoom(true);
      caption.textContent += ` · ${t("original_shown")}`;
    } catch {
      originalButton.disabled = false;
    }
  }

  function step(delta) {
    if (!viewing) return;
    viewing.index = (viewing.index + delta + viewing.item.photos.length) % viewing.item.photos.length;
    show();
  }

  function open(item, index = 0) {
    if (!item.photos.length) return;
    viewing = { item, index };
    show();
    if (!el.open) el.showModal();
  }

  return { el, open };
}
