// The outbox: inspections wait in IndexedDB and are sent when the network is there.
// States: waiting → uploading → sent, or failed (with the reason) when the server refuses for good.
// The client_uuid is made once when the inspection is saved and sent with every retry, so the
// server answers a repeated create with the stored inspection instead of making a second one.
import { api, ApiError } from "./api.js";
import { outboxStore } from "./db.js";

const BASE_DELAY_MS = 5_000;
const MAX_DELAY_MS = 10 * 60_000;

const listeners = new Set();
let running = null;
let timer = null;

export function onOutboxChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function changed() {
  for (const fn of listeners) {
    try { fn(); } catch (err) { console.error(err); }
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

/** Save an inspection (and its photo blobs) for sending; returns the stored item. */
export async function enqueue(item) {
  const now = new Date().toISOString();
  const stored = {
    state: "waiting", attempts: 0, next_try_at: null, last_error: null, result: null,
    created_at: now, updated_at: now, ...item,
  };
  await outboxStore.put(stored);
  changed();
  syncOutbox();
  return stored;
}

export const listOutbox = () => outboxStore.all();

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

/** Send every due item, one at a time; concurrent calls share one run (and one tab sends at a time). */
export function syncOutbox({ force = false } = {}) {
  if (running) return running;
  const run = async () => {
    const items = await outboxStore.all();
    const now = Date.now();
    for (const item of items) {
      if (!due(item, now, force)) continue;
      if (!navigator.onLine) break;
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

async function sendItem(item) {
  await patch(item.key, (it) => { it.state = "uploading"; });
  try {
    const photos = item.photos || [];
    for (let i = 0; i < photos.length; i += 1) {
      if (photos[i].photo_id) continue;
      const form = new FormData();
      form.append("file", photos[i].blob, photos[i].name || "photo.jpg");
      const uploaded = await api.upload("/photos", form);
      photos[i].photo_id = uploaded.id;
      await patch(item.key, (it) => { it.photos[i].photo_id = uploaded.id; });
    }
    const body = { ...item.payload, photos: photoIds(item) };
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
                     fields: error.fields, network: error.network };
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
    await patch(item.key, (it) => { it.state = "failed"; it.attempts += 1; it.last_error = reason; });
    return "failed";
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
  const items = await outboxStore.all();
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
