// The checklist's aspects, in the server's shape (GET /api/v1/checklist):
// [{aspect, title, title_zh, optional, photo_required, items: [{key, type, label, label_zh, required, min, choices}]}].
// The server's copy is kept for offline use; before it was ever fetched, the built-in copy.
import { api } from "./api.js";
import { CHECKLIST_DOCUMENT } from "./checklist-data.js";

const CACHE_KEY = "rie.checklist-document";
const OLD_CACHE_KEY = "rie.checklist"; // a client-side shape of earlier versions: not read any more

function cachedDocument() {
  try {
    return JSON.parse(localStorage.getItem(CACHE_KEY) || "null");
  } catch {
    return null; // a broken cache: the built-in copy
  }
}

export async function loadChecklist() {
  localStorage.removeItem(OLD_CACHE_KEY);
  try {
    const served = await api.get("/checklist");
    localStorage.setItem(CACHE_KEY, JSON.stringify(served));
    return served.aspects;
  } catch {
    return (cachedDocument() || CHECKLIST_DOCUMENT).aspects; // offline
  }
}
