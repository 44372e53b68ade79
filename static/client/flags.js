// Flags say why a submission looks suspicious, in words, from the facts the server stored.
import { formatDateTime, t } from "./i18n.js";

export function flagText(flag) {
  const f = flag.facts || {};
  const distance = f.distance_m;
  switch (flag.code) {
    case "outside_village":
      return t("flag_outside_village", { distance: distance !== undefined && distance !== null ? Math.round(distance) : "?" });
    case "exif_location_far":
      return t("flag_exif_location_far", { distance: distance !== undefined && distance !== null ? Math.round(distance) : "?" });
    case "photo_stale": {
      const photo = (f.photos || [])[0] || f;
      return t("flag_photo_stale", { taken: formatDateTime(photo.taken_at) || "?" });
    }
    case "photo_reused": {
      const others = f.other_inspection_ids ?? (f.photos || []).map((p) => p.other_inspection_id);
      const list = [...new Set(others.filter((x) => x !== undefined && x !== null))];
      return list.length ? t("flag_photo_reused", { other: list.join(", #") }) : t("flag_photo_reused_plain");
    }
    case "low_accuracy":
      return t("flag_low_accuracy", { accuracy: Math.round(f.accuracy_m ?? 0) });
    case "no_exif":
      return t("flag_no_exif");
    default:
      return flag.code;
  }
}
