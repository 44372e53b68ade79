// Drafts: a half-filled form (village, position, answers, notes and the photos themselves) kept in
// IndexedDB per user and per form, written shortly after every change and when the screen is left,
// so it survives switching screens, closing the tab and going offline. Sending it deletes it.
import { draftStore } from "../../db.js";

const DELAY_MS = 300;

export function draftKey(me, formKey) {
  return `${me.id}:${formKey}`;
}

export async function loadDraft(key) {
  try {
    return (await draftStore.get(key)) || null;
  } catch {
    return null; // no IndexedDB (private mode): no drafts
  }
}

/** draftSaver(key, collect) → {schedule(), flush(), discard()}: collect() → what to keep. */
export function draftSaver(key, collect) {
  let timer = null;
  let discarded = false;

  async function save() {
    timer = null;
    if (discarded) return;
    try {
      await draftStore.put({ key, saved_at: new Date().toISOString(), ...collect() });
    } catch (err) {
      console.warn("draft not saved", err);
    }
  }

  return {
    schedule() {
      if (discarded) return;
      clearTimeout(timer);
      timer = setTimeout(save, DELAY_MS);
    },
    flush() {
      if (timer) {
        clearTimeout(timer);
        return save();
      }
      return Promise.resolve();
    },
    async discard() {
      discarded = true;
      clearTimeout(timer);
      try { await draftStore.remove(key); } catch { /* nothing kept */ }
    },
  };
}
