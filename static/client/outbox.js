// The outbox: inspections wait in IndexedDB and are sent when the network is there.
// States: waiting → uploading → sent, or failed (with the reason) when the server refuses for good.
// The client_uuid is made once when the inspection is saved and sent with every retry, so the
// server answers a repeated create with the stored inspection instead of making a second one.
//
// Each item belongs to the user who made it (`owner`): it is sent only while that user is logged
// in, with that user's token, never as someone else's visit (a shared phone). Its time is the
// phone's clock when it was saved; just before the first send it is corrected by the offset to the
// server's clock (learnt from the Date header of the answers) and the phone's own value goes along
// as `device_observed_at`; the corrected body is kept, so every retry sends the same content.
import { api, ApiError, clockOffset, session, uploadWithProgress } from "./api.js";
import { outboxStore } from "./db.js";

const BASE_DELAY_MS = 5_000;
const MAX_DELAY_MS = 10 * 60_000;
const CORRECT_FROM_MS = 30_000; // a smaller offset is measuring noise: the phone's time is kept
const CLOCK_FRESH_MS = 5 * 60_000; // an older measurement is refreshed before a send
// refusals that editing the inspection can fix: "修改" is offered (others only "删除")
const FIXABLE = new Set(["validation_error", "not_found", "bad_request", "photo_too_large", "payload_too_large",
                         "unsupported_media_type", "unprocessable_photo"]);

const listeners = new Set();
const progressListeners = new Set();
const live = new Map(); // key → {phase, index, count, loaded, total, started_at}
let running = null;
let timer = null;

export function onOutboxChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** onOutboxProgress(fn(key, progress|null)): progress of the item being sent, many times a second. */
export function onOutboxProgress(fn) {
  progressListeners.add(fn);
  return () => progressListeners.delete(fn);
}

export function progressOf(key) {
  return live.get(key) || null;
}

function changed() {
  for (const fn of listeners) {
    try { fn(); } catch (err) { console.error(err); }
  }
}

function setProgress(key, value) {
  if (value) live.set(key, value);
  else live.delete(key);
  for (const fn of progressListeners) {
    try { fn(key, value); } catch (err) { console.error(err); }
  }
}

export function newUuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  // Plain-HTTP pages (no secure context) lack randomUUID; getRandomValues is always there.
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export function backoffDelay(attempts) {
  const base = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** Math.max(0, attempts - 1));
  return Math.round(base * (0.75 + Math.random() * 0.5));
}

/** The logged-in user as an item's owner. */
function currentOwner() {
  const me = session.me;
  return me ? { id: me.id, username: me.username, display_name: me.display_name || null } : null;
}

/** Whether `item` was made by `me` (default: the logged-in user). */
export function isMine(item, me = session.me) {
  return Boolean(me) && item.owner?.id === me.id;
}

/** Whether the item failed for a reason the inspector can fix by editing it. */
export function isFixable(item) {
  return item.state === "failed" && FIXABLE.has(item.last_error?.code);
}

/** Save an inspection (and its photo blobs) for sending, as the logged-in user's; returns the stored item. */
export async function enqueue(item) {
  const now = new Date().toISOString();
  const stored = {
    state: "waiting", attempts: 0, next_try_at: null, last_error: null, result: null,
    created_at: now, updated_at: now, owner: currentOwner(), ...item,
  };
  await outboxStore.put(stored);
  changed();
  syncOutbox();
  return stored;
}

/** Replace a failed (or waiting) item's content after "修改": same key and client_uuid, sent afresh. */
export async function replaceContent(key, { payload, photos, keep_photos, village_name }) {
  await outboxStore.update(key, (it) => {
    Object.assign(it, { payload: { ...payload }, photos, keep_photos, village_name });
    if (it.kind === "create") it.payload.client_uuid = it.client_uuid;
    it.state = "waiting";
    it.attempts = 0;
    it.next_try_at = null;
    it.last_error = null;
    it.clock_fixed = false;
    it.device_observed_at = null;
    it.updated_at = new Date().toISOString();
  });
  changed();
  return syncOutbox({ force: true });
}

export const listOutbox = () => outboxStore.all();
export const getItem = (key) => outboxStore.get(key);

/** How many of `me`'s items are not sent yet. */
export async function unsentCount(me = session.me) {
  return (await outboxStore.all()).filter((i) => isMine(i, me) && i.state !== "sent").length;
}

export async function removeItem(key) {
  await outboxStore.remove(key);
  changed();
}

/** "Send now": try again at once, including items that failed. */
export async function retryNow(key) {
  await outboxStore.update(key, (item) => {
    if (item.state !== "sent") {
      item.state = "waiting";
      item.next_try_at = null;
    }
  });
  changed();
  return syncOutbox({ force: true });
}

function due(item, now, force) {
  if (item.state === "uploading") return true; // a tab closed mid-upload: resume it
  if (item.state !== "waiting") return false;
  return force || !item.next_try_at || Date.parse(item.next_try_at) <= now;
}

/** Items saved before items had owners belong to the first user who logs in on this phone again. */
async function adoptOwnerless(me) {
  for (const item of await outboxStore.all()) {
    if (!item.owner) await outboxStore.update(item.key, (it) => { it.owner = { id: me.id, username: me.username }; });
  }
}

/** Send the logged-in user's due items, one at a time; concurrent calls share one run (and one tab
 *  sends at a time). Other users' items wait for their owner to log in. */
export function syncOutbox({ force = false } = {}) {
  if (running) return running;
  const run = async () => {
    const me = session.me;
    if (!me || !session.token) return;
    await adoptOwnerless(me);
    const items = await outboxStore.all();
    const now = Date.now();
    for (const item of items) {
      if (!isMine(item, me) || !due(item, now, force)) continue;
      if (!navigator.onLine) break;
      if (session.me?.id !== me.id) break; // logged out (or in as someone else) meanwhile
      const ok = await sendItem(item);
      if (ok === "stop") break;
    }
    schedule();
  };
  const locked = navigator.locks ? () => navigator.locks.request("rie-outbox", run) : run;
  running = locked().finally(() => { running = null; });
  return running;
}

async function patch(key, change) {
  const item = await outboxStore.update(key, (it) => {
    change(it);
    it.updated_at = new Date().toISOString();
  });
  changed();
  return item;
}

/** The body's time, corrected by the measured offset to the server's clock, with the phone's own. */
async function correctedPayload(item) {
  if (item.clock_fixed) return item.payload;
  const clock = clockOffset();
  if (!clock || Date.now() - Date.parse(clock.measured_at) > CLOCK_FRESH_MS) {
    try { await api.get("/me"); } catch { /* the send below reports the network's state */ }
  }
  const device = item.device_observed_at || item.payload.observed_at;
  const offset = clockOffset()?.offset_ms || 0;
  const observed = Math.abs(offset) >= CORRECT_FROM_MS ? new Date(Date.parse(device) + offset).toISOString() : device;
  const payload = { ...item.payload, observed_at: observed, device_observed_at: device };
  await patch(item.key, (it) => { it.payload = payload; it.device_observed_at = device; it.clock_fixed = true; });
  return payload;
}

async function uploadPhotos(item, progress) {
  const photos = item.photos || [];
  for (let i = 0; i < photos.length; i += 1) {
    if (photos[i].photo_id) continue;
    const form = new FormData();
    form.append("file", photos[i].blob, photos[i].name || "photo.jpg");
    const total = photos[i].blob?.size || 0;
    progress({ phase: "photos", index: i + 1, count: photos.length, loaded: 0, total });
    const uploaded = await uploadWithProgress("/photos", form, (loaded, all) =>
      progress({ phase: "photos", index: i + 1, count: photos.length, loaded, total: all }));
    photos[i].photo_id = uploaded.id;
    await patch(item.key, (it) => { it.photos[i].photo_id = uploaded.id; });
  }
}

async function sendItem(item) {
  await patch(item.key, (it) => { it.state = "uploading"; });
  const started = Date.now();
  const progress = (value) => setProgress(item.key, { ...value, started_at: started });
  let posting = false;
  try {
    await uploadPhotos(item, progress);
    progress({ phase: "inspection" });
    const payload = await correctedPayload(item);
    const body = { ...payload, photos: photoIds(item) };
    posting = true;
    const result = item.kind === "resubmit"
      ? await api.put(`/inspections/${item.inspection_id}`, { ...body, version: item.version })
      : await api.post("/inspections", body);
    await patch(item.key, (it) => {
      it.state = "sent";
      it.attempts += 1;
      it.last_error = null;
      it.next_try_at = null;
      it.result = { id: result.id, status: result.status, version: result.version, flags: result.flags };
      for (const p of it.photos || []) delete p.blob; // the server has the bytes now
    });
    return "sent";
  } catch (err) {
    const error = err instanceof ApiError ? err : new ApiError({ message: String(err) });
    const reason = { status: error.status, code: error.code, message: error.message, message_zh: error.message_zh,
                     fields: error.fields, fields_zh: error.fields_zh, details: error.details, network: error.network };
    if (error.status === 401) {
      await patch(item.key, (it) => { it.state = "waiting"; it.last_error = reason; });
      return "stop"; // log in again, then everything goes
    }
    if (error.retryable) {
      await patch(item.key, (it) => {
        it.state = "waiting";
        it.attempts += 1;
        it.last_error = reason;
        it.next_try_at = new Date(Date.now() + backoffDelay(it.attempts)).toISOString();
      });
      return error.network ? "stop" : "retry";
    }
    await patch(item.key, (it) => {
      it.state = "failed";
      it.attempts += 1;
      it.last_error = reason;
      // refused, so nothing was stored: the next try corrects the time afresh
      if (posting && error.status !== 409) it.clock_fixed = false;
    });
    return "failed";
  } finally {
    setProgress(item.key, null);
  }
}

function photoIds(item) {
  const ids = {};
  for (const [aspect, list] of Object.entries(item.keep_photos || {})) ids[aspect] = [...list];
  for (const p of item.photos || []) {
    if (!p.photo_id) continue;
    (ids[p.aspect] ||= []).push(p.photo_id);
  }
  return ids;
}

async function schedule() {
  clearTimeout(timer);
  const items = (await outboxStore.all()).filter((i) => isMine(i));
  const times = items.filter((i) => i.state === "waiting" && i.next_try_at).map((i) => Date.parse(i.next_try_at));
  if (!times.length) return;
  const wait = Math.max(1_000, Math.min(...times) - Date.now());
  timer = setTimeout(() => syncOutbox(), wait);
}

export function startOutbox() {
  window.addEventListener("online", () => syncOutbox({ force: true }));
  document.addEventListener("visibilitychange", () => { if (!document.hidden) syncOutbox(); });
  syncOutbox();
}
