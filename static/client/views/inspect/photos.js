// The photos of one aspect: the camera on phones (capture), the file picker elsewhere. A chosen
// photo is prepared (downscaled, EXIF kept) and waits with the inspection; photos already on a
// returned inspection are kept unless removed.
import { photoUrl } from "../../api.js";
import { pick, t } from "../../i18n.js";
import { preparePhoto } from "../../photo.js";
import { button, clear, h } from "../../ui.js";

function photoInfo(info) {
  const kb = Math.round(info.bytes / 1024);
  return [info.mode === "original" ? t("photo_original", { kb }) : t("photo_downscaled", { w: info.width, h: info.height, kb }),
    " · ", info.exif ? t("photo_exif_kept") : t("photo_exif_none")];
}

/** photoPicker(aspect, keptIds) → {el, refresh(), count(), kept() → ids, added() → [{blob, name, info}]}. */
export function photoPicker(aspect, keptIds) {
  const key = aspect.aspect;
  let kept = [...keptIds];
  const added = []; // [{blob, name, info, url}]
  const input = h("input", { type: "file", accept: "image/*", capture: "environment", multiple: true,
                             name: `photos-${key}`, class: "file", id: `photo-${key}` });
  const list = h("ul", { class: "photos", "aria-live": "polite" });

  input.addEventListener("change", async () => {
    const files = [...input.files];
    input.value = "";
    for (const file of files) {
      const prepared = await preparePhoto(file);
      added.push({ ...prepared, url: URL.createObjectURL(prepared.blob) });
    }
    refresh();
  });

  function keptItem(id) {
    const img = h("img", { alt: `${pick(aspect, "title")} ${id}`, width: 96, height: 96 });
    photoUrl(id, "thumb").then((u) => { img.src = u; }).catch(() => {});
    return h("li", {}, img, button(t("remove_photo"), () => {
      kept = kept.filter((x) => x !== id);
      refresh();
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
      }, { class: "small" }));
  }

  function refresh() {
    clear(list, kept.map(keptItem), added.map(addedItem));
  }

  const el = h("div", { class: "field" },
    input, h("label", { for: `photo-${key}`, class: "button-like" }, `📷 ${t("add_photo")}`), list);
  return { el, refresh, count: () => kept.length + added.length, kept: () => [...kept], added: () => added };
}
