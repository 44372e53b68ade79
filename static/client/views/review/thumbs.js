// Photo thumbnails that load only when they come on screen (the queue of 200 does not fire hundreds
// of thumbnail requests at once): one IntersectionObserver for all of them.
import { photoUrl } from "../../api.js";
import { t } from "../../i18n.js";
import { h } from "../../ui.js";

const MARGIN = "200px"; // start a little before a thumbnail scrolls into view

let observer = null;

function load(img) {
  photoUrl(img.dataset.photo, "thumb").then((u) => { img.src = u; }).catch(() => { img.alt += " ✗"; });
}

/** Load `img` (with data-photo) when it is about to be seen. */
export function lazyThumb(img) {
  if (!("IntersectionObserver" in window)) {
    load(img);
    return img;
  }
  observer ||= new IntersectionObserver((entries) => {
    for (const entry of entries) {
      if (!entry.isIntersecting) continue;
      observer.unobserve(entry.target);
      load(entry.target);
    }
  }, { rootMargin: MARGIN });
  observer.observe(img);
  return img;
}

/** A thumbnail button that opens the viewer at `index`. */
export function thumbButton(photo, index, aspectLabel, onclick) {
  const img = lazyThumb(h("img", { alt: `${aspectLabel(photo.aspect)} ${index + 1}`, width: 96, height: 96,
                                   dataset: { photo: photo.id } }));
  return h("button", { type: "button", class: "thumb", onclick,
                       "aria-label": `${t("photo_viewer")}: ${aspectLabel(photo.aspect)} ${index + 1}` }, img);
}
