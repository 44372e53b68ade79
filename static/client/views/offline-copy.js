// The last copy of a list or an inspection fetched online, kept in localStorage for reading
// offline, with the time it was fetched; a screen showing it says so.
import { formatDateTime, t } from "../i18n.js";
import { h } from "../ui.js";

const PREFIX = "rie.copy.";
const MAX_COPIES = 60;

export function writeCopy(key, data) {
  try {
    localStorage.setItem(PREFIX + key, JSON.stringify({ fetched_at: new Date().toISOString(), data }));
    const keys = Object.keys(localStorage).filter((k) => k.startsWith(PREFIX));
    if (keys.length > MAX_COPIES) {
      const oldest = keys.map((k) => [k, JSON.parse(localStorage.getItem(k) || "{}").fetched_at || ""])
        .sort((a, b) => a[1].localeCompare(b[1])).slice(0, keys.length - MAX_COPIES);
      for (const [k] of oldest) localStorage.removeItem(k);
    }
  } catch {
    /* storage full: the screen still works online */
  }
}

/** {fetched_at, data} or null. */
export function readCopy(key) {
  try { return JSON.parse(localStorage.getItem(PREFIX + key) || "null"); } catch { return null; }
}

export function offlineNote(copy) {
  return h("p", { class: "card notice offline-copy", role: "note" }, t("offline_copy", { time: formatDateTime(copy.fetched_at) }));
}
