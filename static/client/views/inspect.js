// Inspector: where am I, the checklist per aspect with photos, submit (through the outbox).
// Also edits a returned inspection (#/edit/{id}) and resubmits it with its version.
import { allPages, api, photoUrl, session } from "../api.js";
import { loadChecklist } from "../checklist.js";
import { errorText, formatDateTime, pick, t } from "../i18n.js";
import { enqueue, newUuid } from "../outbox.js";
import { preparePhoto } from "../photo.js";
import { announce, button, clear, field, h, spinner } from "../ui.js";

const VILLAGES_KEY = "rie.villages";

async function loadVillages() {
  const cacheKey = `${VILLAGES_KEY}.${session.me?.scope?.code || ""}`;
  try {
    const items = await allPages("/divisions", { level: "village" });
    const villages = items.map((v) => ({ code: v.code, name: v.name, parent_code: v.parent_code }));
    localStorage.setItem(cacheKey, JSON.stringify(villages));
    return villages;
  } catch {
    try { return JSON.parse(localStorage.getItem(cacheKey) || "[]"); } catch { return []; }
  }
}

function getPosition() {
  return new Promise((resolve, reject) => {
    if (!("geolocation" in navigator)) {
      reject(new Error(t("geo_unsupported")));
      return;
    }
    navigator.geolocation.getCurrentPosition(resolve, reject, { enableHighAccuracy: true, timeout: 20_000, maximumAge: 60_000 });
  });
}

export async function renderInspect(main, { params, go }) {
  const editId = params[0];
  main.append(spinner());
  const [checklist, villages, existing] = await Promise.all([
    loadChecklist(), loadVillages(), editId ? api.get(`/inspections/${editId}`).catch((e) => ({ error: e })) : null,
  ]);
  clear(main);
  if (existing && existing.error) {
    main.append(h("p", { class: "error", role: "alert" }, errorText(existing.error)));
    return;
  }

  const state = {
    position: null, // {lat, lon, accuracy_m}
    photos: {}, // aspect → [{blob, name, info, url}]
    keep: {}, // aspect → [photo ids already on the inspection] (editing)
  };

  // --- where am I -------------------------------------------------------------------------
  const villageSelect = h("select", { name: "village", required: true },
    h("option", { value: "" }, t("choose_village")),
    villages.map((v) => h("option", { value: v.code }, `${v.name} (${v.code})`)));
  const filter = h("input", { type: "search", name: "village-filter", autocomplete: "off" });
  filter.addEventListener("input", () => {
    const q = filter.value.trim();
    for (const option of villageSelect.options) {
      if (!option.value) continue;
      option.hidden = Boolean(q) && !option.textContent.includes(q);
    }
  });
  const whereText = h("p", { id: "where-result", role: "status", class: "muted" });
  const locateButton = button(t("where_am_i"), locate, { class: "primary", id: "where-am-i" });

  async function locate() {
    locateButton.disabled = true;
    whereText.textContent = t("locating");
    try {
      const pos = await getPosition();
      state.position = { lat: pos.coords.latitude, lon: pos.coords.longitude, accuracy_m: Math.round(pos.coords.accuracy) };
      const acc = t("accuracy", { accuracy: state.position.accuracy_m });
      if (!navigator.onLine) {
        whereText.textContent = `${t("geo_offline")} (${acc})`;
        return;
      }
      try {
        const found = await api.get("/divisions/locate", { lat: state.position.lat, lon: state.position.lon });
        villageSelect.value = found.village.code;
        const message = found.inside
          ? t("located_inside", { village: found.village.name, township: found.township?.name || "" })
          : t("located_near", { village: found.village.name, distance: Math.round(found.distance_m) });
        whereText.textContent = `${message} (${acc})`;
      } catch (err) {
        whereText.textContent = err.network ? `${t("geo_offline")} (${acc})` : errorText(err);
      }
    } catch (err) {
      whereText.textContent = t("geo_denied", { reason: err.message || String(err) });
    } finally {
      locateButton.disabled = false;
    }
  }

  // --- checklist ---------------------------------------------------------------------------
  const aspectEls = checklist.map((aspect) => renderAspect(aspect, state, existing));

  const notes = h("textarea", { name: "notes", rows: 3, maxlength: 2000 });
  if (existing?.notes) notes.value = existing.notes;
  const error = h("p", { class: "error", role: "alert", hidden: true });
  const submit = h("button", { type: "submit", class: "primary big", id: "submit-inspection" },
    editId ? t("resubmit") : t("submit"));

  const form = h("form", { novalidate: true, class: "inspect" },
    h("h1", {}, editId ? `${t("edit_resubmit")} #${editId}` : t("nav_inspect")),
    existing ? returnedNote(existing) : null,
    h("section", { class: "card", "aria-labelledby": "where-h" },
      h("h2", { id: "where-h" }, t("village")),
      locateButton, whereText,
      field(t("search_village"), filter),
      field(t("village"), villageSelect)),
    aspectEls.map((a) => a.el),
    h("section", { class: "card" }, field(t("notes"), notes)),
    error, submit);

  if (existing) {
    villageSelect.value = existing.village?.code || "";
    const loc = existing.location || {};
    if (loc.lat !== undefined) {
      state.position = { lat: loc.lat, lon: loc.lon, accuracy_m: loc.accuracy_m ?? null };
      whereText.textContent = t("accuracy", { accuracy: state.position.accuracy_m ?? "?" });
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    const problem = validate();
    if (problem) {
      error.textContent = problem;
      error.hidden = false;
      error.focus?.();
      return;
    }
    submit.disabled = true;
    try {
      const village = villageSelect.value;
      const answers = {};
      for (const a of aspectEls) if (a.included()) answers[a.key] = a.answers();
      const payload = {
        village,
        observed_at: new Date().toISOString(),
        answers,
        notes: notes.value.trim() || undefined,
      };
      if (state.position) payload.location = { ...state.position, crs: "wgs84" };
      const photos = [];
      const keep = {};
      for (const a of aspectEls) {
        if (!a.included()) continue;
        for (const p of state.photos[a.key] || []) photos.push({ aspect: a.key, blob: p.blob, name: p.name, info: p.info, photo_id: null });
        if (state.keep[a.key]?.length) keep[a.key] = [...state.keep[a.key]];
      }
      const villageName = villages.find((v) => v.code === village)?.name || village;
      if (editId) {
        await enqueue({ key: `resubmit:${editId}:${existing.version}`, kind: "resubmit", inspection_id: editId,
                        version: existing.version, client_uuid: existing.client_uuid, village_name: villageName,
                        payload, photos, keep_photos: keep });
      } else {
        const clientUuid = newUuid();
        await enqueue({ key: clientUuid, kind: "create", client_uuid: clientUuid, village_name: villageName,
                        payload: { ...payload, client_uuid: clientUuid }, photos, keep_photos: {} });
      }
      announce(t("submit_queued"));
      go("outbox");
    } catch (err) {
      error.textContent = errorText(err) || String(err);
      error.hidden = false;
    } finally {
      submit.disabled = false;
    }
  });

  function validate() {
    if (!villageSelect.value) return t("need_village");
    const included = aspectEls.filter((a) => a.included());
    if (!included.length) return t("need_aspect");
    for (const a of included) {
      const missing = a.missing();
      if (missing) return missing;
      const count = (state.photos[a.key] || []).length + (state.keep[a.key] || []).length;
      if (count === 0 && a.photoRequired) return t("need_photo", { aspect: pick(a.aspect) });
    }
    if (!state.position) return t("need_location");
    return null;
  }

  main.append(form);
  for (const a of aspectEls) a.refreshPhotos();
}

function returnedNote(existing) {
  const comment = existing.latest_review?.comment;
  return h("div", { class: "card notice", role: "note" },
    h("strong", {}, `${t("reviewer_comment")}: `), comment || t("none"),
    h("div", { class: "muted" }, `${t("observed_at")}: ${formatDateTime(existing.observed_at)} · ${t("version", { v: existing.version })}`));
}

function renderAspect(aspect, state, existing) {
  const prior = existing?.answers?.[aspect.key];
  const optional = aspect.optional ?? aspect.key === "tap_water";
  const include = h("input", { type: "checkbox", name: `include-${aspect.key}`, checked: existing ? Boolean(prior) : !optional });
  const body = h("div", { class: "questions" });
  const controls = [];
  for (const q of aspect.questions) {
    const name = `${aspect.key}.${q.key}`;
    const label = pick(q);
    const value = prior?.[q.key];
    if (q.type === "boolean") {
      const yes = h("input", { type: "radio", name, value: "true", checked: value === true });
      const no = h("input", { type: "radio", name, value: "false", checked: value === false });
      body.append(h("fieldset", { class: "yesno", dataset: { question: q.key } }, h("legend", {}, label),
        h("label", {}, yes, ` ${t("yes_answer")}`), h("label", {}, no, ` ${t("no_answer")}`)));
      controls.push({ q, label, read: () => (yes.checked ? true : no.checked ? false : undefined) });
    } else if (q.type === "integer") {
      const input = h("input", { type: "number", name, inputmode: "numeric", min: q.min ?? 0, step: 1 });
      if (value !== undefined && value !== null) input.value = value;
      body.append(field(label, input));
      controls.push({ q, label, read: () => (input.value === "" ? undefined : Number.parseInt(input.value, 10)) });
    } else {
      const select = h("select", { name }, h("option", { value: "" }, "—"),
        q.choices.map((c) => h("option", { value: c.value, selected: c.value === value }, pick(c))));
      body.append(field(label, select));
      controls.push({ q, label, read: () => select.value || undefined });
    }
  }

  // photos: the camera on phones (capture), the file picker elsewhere
  const fileInput = h("input", { type: "file", accept: "image/*", capture: "environment", multiple: true,
                                 name: `photos-${aspect.key}`, class: "file" });
  const photoList = h("ul", { class: "photos", "aria-live": "polite" });
  state.photos[aspect.key] = [];
  state.keep[aspect.key] = (existing?.photos?.[aspect.key] || []).map((p) => (typeof p === "string" ? p : p.id));
  fileInput.addEventListener("change", async () => {
    const files = [...fileInput.files];
    fileInput.value = "";
    for (const file of files) {
      const prepared = await preparePhoto(file);
      state.photos[aspect.key].push({ ...prepared, url: URL.createObjectURL(prepared.blob) });
    }
    refreshPhotos();
  });

  function refreshPhotos() {
    clear(photoList,
      state.keep[aspect.key].map((id) => {
        const img = h("img", { alt: `${pick(aspect)} ${id}`, width: 96, height: 96 });
        photoUrl(id, "thumb").then((u) => { img.src = u; }).catch(() => {});
        return h("li", {}, img, button(t("remove_photo"), () => {
          state.keep[aspect.key] = state.keep[aspect.key].filter((x) => x !== id);
          refreshPhotos();
        }, { class: "small" }));
      }),
      state.photos[aspect.key].map((p, index) => h("li", {},
        h("img", { src: p.url, alt: p.name, width: 96, height: 96 }),
        h("small", { class: "photo-info" }, p.info.mode === "original"
          ? t("photo_original", { kb: Math.round(p.info.bytes / 1024) })
          : t("photo_downscaled", { w: p.info.width, h: p.info.height, kb: Math.round(p.info.bytes / 1024) }),
          " · ", p.info.exif ? t("photo_exif_kept") : t("photo_exif_none")),
        button(t("remove_photo"), () => {
          URL.revokeObjectURL(p.url);
          state.photos[aspect.key].splice(index, 1);
          refreshPhotos();
        }, { class: "small" }))));
  }

  const photoField = h("div", { class: "field" },
    h("label", { for: `photo-${aspect.key}`, class: "button-like" }, `📷 ${t("add_photo")}`), photoList);
  fileInput.id = `photo-${aspect.key}`;
  photoField.prepend(fileInput);
  body.append(photoField);

  const section = h("section", { class: "card aspect", dataset: { aspect: aspect.key }, "aria-labelledby": `aspect-${aspect.key}` },
    h("h2", { id: `aspect-${aspect.key}` }, pick(aspect)),
    h("label", { class: "toggle" }, include, ` ${t("aspect_include")}`), body);
  const sync = () => { body.hidden = !include.checked; };
  include.addEventListener("change", sync);
  sync();

  return {
    el: section,
    key: aspect.key,
    aspect,
    photoRequired: aspect.photo_required ?? true,
    included: () => include.checked,
    answers: () => Object.fromEntries(controls.map((c) => [c.q.key, c.read()]).filter(([, v]) => v !== undefined)),
    missing: () => {
      const c = controls.find((x) => x.read() === undefined && (x.q.required ?? x.q.type === "boolean"));
      return c ? `${pick(aspect)}: ${c.label}` : null;
    },
    refreshPhotos,
  };
}
