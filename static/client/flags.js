// Flags say why a submission looks suspicious, in words, from the facts the server stored
// (app/services/flags.py makes them).
import { formatDateTime, t } from "./i18n.js";

const metres = (distance) => (distance === null ? "?" : Math.round(distance));

export function flagText(flag) {
  const f = flag.facts;
  switch (flag.code) {
    case "outside_village":
      return t("flag_outside_village", { distance: metres(f.distance_m) });
    case "exif_location_far":
      return t("flag_exif_location_far", { distance: metres(f.distance_m) });
    case "photo_stale":
      return t("flag_photo_stale", { taken: formatDateTime(f.photos[0].taken_at) });
    case "photo_reused":
      return t("flag_photo_reused", { other: f.other_inspection_ids.join(", #") });
    case "low_accuracy":
      return t("flag_low_accuracy", { accuracy: Math.round(f.accuracy_m) });
    case "no_exif":
      return t("flag_no_exif");
    default:
      return flag.code;
  }
}
