// Checking the form before saving, and saving the inspection in the outbox: a new one with a
// client_uuid made once, a returned one resubmitted with the version it edits, or a refused outbox
// item replaced after "修改". Without a position the inspection goes without a location.
import { t } from "../../i18n.js";
import { enqueue, newUuid, replaceContent } from "../../outbox.js";

/** The first reason the form cannot be saved yet, in words, or null. */
export function problemOf(where, aspects) {
  if (!where.village()) return t("need_village");
  const included = aspects.filter((a) => a.included());
  if (!included.length) return t("need_aspect");
  for (const a of included) {
    const missing = a.missing();
    if (missing) return missing;
    if (a.photos.count() === 0 && a.photoRequired) return t("need_photo", { aspect: a.title() });
    if (a.photos.busy()) return t("photos_preparing");
  }
  return null;
}

function payloadOf(where, aspects, notes, observedAt) {
  const answers = Object.fromEntries(aspects.filter((a) => a.included()).map((a) => [a.key, a.answers()]));
  const payload = {
    village: where.village(),
    observed_at: observedAt || new Date().toISOString(), // the phone's clock; corrected when sent
    answers,
    notes: notes.trim() || undefined,
  };
  if (where.position()) payload.location = { ...where.position(), crs: "wgs84" };
  return payload;
}

/** The included aspects' photos: new ones to upload, and the ids kept from the returned inspection. */
function photosOf(aspects) {
  const photos = [];
  const keep = {};
  for (const a of aspects.filter((x) => x.included())) {
    for (const p of a.photos.added()) {
      photos.push({ aspect: a.key, blob: p.blob, name: p.name, info: p.info, photo_id: p.photo_id || null });
    }
    const kept = a.photos.kept();
    if (kept.length) keep[a.key] = kept;
  }
  return { photos, keep };
}

export async function queueInspection({ mode, editId, existing, item, where, aspects, notes }) {
  // a fixed item keeps the time of the visit (the phone's own), the rest is what the form says now
  const payload = payloadOf(where, aspects, notes, mode === "fix" ? (item.device_observed_at || item.payload.observed_at) : null);
  const { photos, keep } = photosOf(aspects);
  if (mode === "fix") {
    await replaceContent(item.key, { payload, photos, keep_photos: keep, village_name: where.villageName() });
    return;
  }
  const common = { village_name: where.villageName(), photos };
  if (mode === "edit") {
    await enqueue({ key: `resubmit:${editId}:${existing.version}`, kind: "resubmit", inspection_id: editId,
                    version: existing.version, client_uuid: existing.client_uuid, payload, keep_photos: keep, ...common });
  } else {
    const clientUuid = newUuid();
    await enqueue({ key: clientUuid, kind: "create", client_uuid: clientUuid,
                    payload: { ...payload, client_uuid: clientUuid }, keep_photos: {}, ...common });
  }
}
