// Flags say why a submission looks suspicious, in words, from the facts the server stored
// (app/services/flags.py makes them); distances and durations read as people read them.
import { formatDateTime, lang, t } from "./i18n.js";

/** 860 米, 8.6 公里, 8,595 公里 (m, km in English). */
export function distanceText(metres) {
  if (metres === null || metres === undefined || Number.isNaN(Number(metres))) return "?";
  const m = Number(metres);
  const locale = lang() === "en" ? "en-GB" : "zh-CN";
  if (m < 1000) return t("metres", { n: Math.round(m) });
  const km = m / 1000;
  const n = km < 10 ? km.toLocaleString(locale, { maximumFractionDigits: 1 }) : Math.round(km).toLocaleString(locale);
  return t("kilometres", { n });
}

/** 40 分钟, 3 小时, 2 天. */
export function durationText(seconds) {
  const s = Math.abs(Number(seconds) || 0);
  if (s < 120 * 60) return t("minutes_n", { n: Math.max(1, Math.round(s / 60)) });
  if (s < 48 * 3600) return t("hours_n", { n: Math.round(s / 3600) });
  return t("days_n", { n: Math.round(s / 86400) });
}

function reusedWith(f) {
  const ids = f.other_inspection_ids || [];
  if (ids.length) return `#${ids.join(", #")}`;
  const elsewhere = (f.elsewhere || [])[0] || (f.photos || []).find((p) => p.elsewhere)?.elsewhere;
  if (!elsewhere) return "?";
  const text = lang() === "en" ? elsewhere.description : elsewhere.description_zh;
  return [text, elsewhere.township_name, elsewhere.observed_on].filter(Boolean).join(" · ");
}

function clockText(f) {
  if (f.skew_seconds !== undefined) {
    const key = f.skew_seconds > 0 ? "flag_clock_fast" : "flag_clock_slow";
    const how = f.observed_at === "received_at" ? t("flag_clock_received") : t("flag_clock_corrected");
    return `${t(key, { duration: durationText(f.skew_seconds) })}${how}`;
  }
  if (f.minutes_ahead !== undefined) return t("flag_clock_fast", { duration: durationText(f.minutes_ahead * 60) }) + t("flag_clock_received");
  if (f.days_before !== undefined) return t("flag_clock_slow", { duration: durationText(f.days_before * 86400) });
  return t("flag_clock_skew");
}

export function flagText(flag) {
  const f = flag.facts || {};
  switch (flag.code) {
    case "outside_village":
      return t("flag_outside_village", { distance: distanceText(f.distance_m) });
    case "exif_location_far":
      return t("flag_exif_location_far", { distance: distanceText(f.distance_m) });
    case "photo_stale":
      return t("flag_photo_stale", { taken: formatDateTime(f.photos?.[0]?.taken_at) });
    case "photo_reused":
      return t("flag_photo_reused", { other: reusedWith(f) });
    case "low_accuracy":
      return t("flag_low_accuracy", { accuracy: distanceText(f.accuracy_m) });
    case "no_exif":
      return t("flag_no_exif");
    case "no_location": {
      const placed = (f.photos || []).filter((p) => p.distance_m !== null && p.distance_m !== undefined);
      if (!placed.length) return t("flag_no_location");
      const nearest = placed.reduce((a, b) => (a.distance_m <= b.distance_m ? a : b));
      return `${t("flag_no_location")}；${nearest.inside_village ? t("flag_no_location_photo_inside")
        : t("flag_no_location_photo", { distance: distanceText(nearest.distance_m) })}`;
    }
    case "clock_skew":
      return clockText(f);
    case "photos_missing":
      return lang() === "en" ? (f.text || t("flag_photos_missing")) : (f.text_zh || t("flag_photos_missing"));
    case "village_out_of_scope":
      return t("flag_village_out_of_scope");
    case "impossible_answer":
      return t("flag_impossible_answer");
    default:
      return flag.code;
  }
}

/** What the flags say about one photo, in words (which photo is far, which is old, ...). */
export function photoFlagTexts(flags, photoId) {
  const texts = [];
  for (const flag of flags || []) {
    const f = flag.facts || {};
    const mine = (f.photos || []).filter((p) => p.photo_id === photoId);
    if (flag.code === "no_exif" && mine.length) texts.push(t("flag_no_exif"));
    for (const p of mine) {
      if (flag.code === "exif_location_far") texts.push(t("photo_flag_far", { distance: distanceText(p.distance_m) }));
      if (flag.code === "photo_stale") {
        texts.push(p.days_before !== undefined
          ? t("photo_flag_old", { taken: formatDateTime(p.taken_at), duration: durationText(p.days_before * 86400) })
          : t("photo_flag_after", { taken: formatDateTime(p.taken_at), duration: durationText((p.minutes_after || 0) * 60) }));
      }
      if (flag.code === "photo_reused") {
        texts.push(t("photo_flag_reused", { other: p.other_inspection_id ? `#${p.other_inspection_id}`
          : (lang() === "en" ? p.elsewhere?.description : p.elsewhere?.description_zh) || "?" }));
      }
      if (flag.code === "no_location") {
        texts.push(p.inside_village ? t("flag_no_location_photo_inside")
          : t("flag_no_location_photo", { distance: distanceText(p.distance_m) }));
      }
    }
  }
  return texts;
}

/** Great-circle distance in metres (WGS-84 sphere): the photo's GPS to the submitted location. */
export function haversine(lat1, lon1, lat2, lon2) {
  const rad = Math.PI / 180;
  const dlat = (lat2 - lat1) * rad;
  const dlon = (lon2 - lon1) * rad;
  const a = Math.sin(dlat / 2) ** 2 + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(dlon / 2) ** 2;
  return 2 * 6371008.8 * Math.asin(Math.sqrt(a));
}
