// Checking the form before saving, and saving the inspection in the outbox: a new one with a
// client_uuid made once, or a returned one resubmitted with the version it edits.
import { t } from "../../i18n.js";
import { enqueue, newUuid } from "../../outbox.js";

/** The first reason the form cannot be saved yet, in words, or null. */
export function problemOf(where, aspects) {
  if (!where.village()) return t("need_village");
  const included = aspects.filter((a) => a.included());
  if (!included.length) return t("need_aspect");
  for (const a of included) {
    const missing = a.missing();
    if (missing) return missing;
    if (a.photos.count() === 0 && a.photoRequired) return t("need_photo", { aspect: a.title() });
  }
  if (!where.position()) return t("need_location");
  return null;
}

function payloadOf(where, aspects, notes) {
  const answers = Object.fromEntries(aspects.filter((a) => a.included()).map((a) => [a.key, a.answers()]));
  return {
    village: where.village(),
    observed_at: new Date().toISOString(),
    answers,
    notes: notes.trim() || undefined,
    location: { ...where.position(), crs: "wgs84" },
  };
}

/** The included aspects' photos: new ones to upload, and the ids kept from the returned inspection. */
function photosOf(aspects) {
  const photos = [];
  const keep = {};
  for (const a of aspects.filter((x) => x.included())) {
    for (const p of a.photos.added()) photos.push({ aspect: a.key, blob: p.blob, name: p.name, info: p.info, photo_id: null });
    const kept = a.photos.kept();
    if (kept.length) keep[a.key] = kept;
  }
  return { photos, keep };
}

export async function queueInspection({ editId, existing, where, aspects, notes }) {
  const payload = payloadOf(where, aspects, notes);
  const { photos, keep } = photosOf(aspects);
  const common = { village_name: where.villageName(), photos };
  if (editId) {
    await enqueue({ key: `resubmit:${editId}:${existing.version}`, kind: "resubmit", inspection_id: editId,
                    version: existing.version, client_uuid: existing.client_uuid, payload, keep_photos: keep, ...common });
  } else {
    const clientUuid = newUuid();
    await enqueue({ key: clientUuid, kind: "create", client_uuid: clientUuid,
                    payload: { ...payload, client_uuid: clientUuid }, keep_photos: {}, ...common });
  }
}
