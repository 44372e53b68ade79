// The photo viewer of the review queue: one inspection's photos at display size, ← → to step.
import { photoUrl } from "../../api.js";
import { flagText } from "../../flags.js";
import { t } from "../../i18n.js";
import { button, h } from "../../ui.js";

/** photoViewer(aspectLabel) → {el, open(item, index)}. */
export function photoViewer(aspectLabel) {
  const img = h("img", { alt: "" });
  const caption = h("p", { class: "muted", "aria-live": "polite" });
  const el = h("dialog", { class: "viewer", "aria-label": t("photo_viewer"), id: "photo-viewer" },
    h("div", { class: "row" }, h("h2", {}, t("photo_viewer")), button(t("close"), () => el.close(), { class: "secondary" })),
    img, caption,
    h("div", { class: "actions" }, button(`← ${t("prev_photo")}`, () => step(-1)), button(`${t("next_photo")} →`, () => step(1))));
  el.addEventListener("keydown", (event) => {
    if (event.key === "ArrowLeft") step(-1);
    if (event.key === "ArrowRight") step(1);
  });
  let viewing = null; // {item, index}

  function show() {
    const { item, index } = viewing;
    const p = item.photos[index];
    const position = `${index + 1}/${item.photos.length}`;
    img.alt = `${aspectLabel(p.aspect)} ${position}`;
    img.removeAttribute("src");
    photoUrl(p.id, "display").then((u) => { if (viewing.item.photos[viewing.index] === p) img.src = u; });
    const flags = item.flags.map(flagText).join("；");
    caption.textContent = `#${item.id} ${item.village.name} · ${aspectLabel(p.aspect)} ${position}${flags ? ` · ⚠ ${flags}` : ""}`;
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
