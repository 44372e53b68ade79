// The photos of one aspect: the camera on phones (capture), the file picker elsewhere. A chosen
// photo is prepared (downscaled, EXIF kept) and waits with the inspection, with "照片 2/4" while
// several are prepared; photos already on a returned inspection are kept unless removed.
import { photoUrl } from "../../api.js";
import { pick, t } from "../../i18n.js";
import { preparePhoto } from "../../photo.js";
import { button, clear, h } from "../../ui.js";

function photoInfo(info) {
  if (!info) return "";
  const kb = Math.round(info.bytes / 1024);
  return [info.mode === "original" ? t("photo_original", { kb }) : t("photo_downscaled", { w: info.width, h: info.height, kb }),
    " · ", info.exif ? t("photo_exif_kept") : t("photo_exif_none")];
}

/** photoPicker(aspect, keptIds, addedPhotos, onChange) → {el, refresh(), count(), kept() → ids,
 *  added() → [{blob, name, info, photo_id?}], busy()}. */
export function photoPicker(aspect, keptIds, addedPhotos = [], onChange = () => {}) {
  const key = aspect.aspect;
  let kept = [...keptIds];
  const added = addedPhotos.filter((p) => p.blob).map((p) => ({ ...p, url: URL.createObjectURL(p.blob) }));
  let preparing = 0;
  const input = h("input", { type: "file", accept: "image/*", capture: "environment", multiple: true,
                             name: `photos-${key}`, class: "file", id: `photo-${key}` });
  const list = h("ul", { class: "photos", "aria-live": "polite" });
  const status = h("p", { class: "muted preparing", role: "status", hidden: true });

  input.addEventListener("change", async () => {
    const files = [...input.files];
    input.value = "";
    preparing += 1;
    try {
      for (let i = 0; i < files.length; i += 1) {
        status.textContent = t("preparing_photo", { i: i + 1, n: files.length });
        status.hidden = false;
        const prepared = await preparePhoto(files[i]);
        added.push({ ...prepared, url: URL.createObjectURL(prepared.blob) });
        refresh();
      }
    } finally {
      preparing -= 1;
      status.hidden = preparing === 0;
    }
    onChange();
  });

  function keptItem(id) {
    const img = h("img", { alt: `${pick(aspect, "title")} ${id}`, width: 96, height: 96 });
    photoUrl(id, "thumb").then((u) => { img.src = u; }).catch(() => {});
    return h("li", {}, img, button(t("remove_photo"), () => {
      kept = kept.filter((x) => x !== id);
      refresh();
      onChange();
    }, { class: "small" }));
  }

  function addedItem(p, index) {
    return h("li", {},
      h("img", { src: p.url, alt: p.name, width: 96, height: 96 }),
      h("small", { class: "photo-info" }, photoInfo(p.info)),
      button(t("remove_photo"), () => {
        URL.revokeObjectURL(p.url);
        added.splice(index, 1);
        refresh();
        onChange();
      }, { class: "small" }));
  }

  function refresh() {
    clear(list, kept.map(keptItem), added.map(addedItem));
  }

  const el = h("div", { class: "field" },
    input, h("label", { for: `photo-${key}`, class: "button-like" }, `📷 ${t("add_photo")}`), status, list);
  return { el, refresh, count: () => kept.length + added.length, kept: () => [...kept], added: () => added,
           busy: () => preparing > 0 };
}
