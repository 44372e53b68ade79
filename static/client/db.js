// IndexedDB: the outbox (inspections and their photo blobs waiting for the network) and the drafts
// (half-filled forms with their photos, per user).
const DB_NAME = "rie-client";
const DB_VERSION = 2;
const OUTBOX = "outbox";
const DRAFTS = "drafts";

let opening = null;

function open() {
  if (!opening) {
    opening = new Promise((resolve, reject) => {
      const req = indexedDB.open(DB_NAME, DB_VERSION);
      req.onupgradeneeded = () => {
        const db = req.result;
        if (!db.objectStoreNames.contains(OUTBOX)) {
          const store = db.createObjectStore(OUTBOX, { keyPath: "key" });
          store.createIndex("created_at", "created_at");
        }
        if (!db.objectStoreNames.contains(DRAFTS)) db.createObjectStore(DRAFTS, { keyPath: "key" });
      };
      req.onsuccess = () => {
        const db = req.result;
        db.onversionchange = () => { db.close(); opening = null; }; // a newer tab upgrades: let it
        resolve(db);
      };
      req.onerror = () => reject(req.error);
    });
  }
  return opening;
}

function tx(name, mode, fn) {
  return open().then((db) => new Promise((resolve, reject) => {
    const transaction = db.transaction(name, mode);
    const store = transaction.objectStore(name);
    let result;
    Promise.resolve(fn(store)).then((r) => { result = r; });
    transaction.oncomplete = () => resolve(result);
    transaction.onerror = () => reject(transaction.error);
    transaction.onabort = () => reject(transaction.error);
  }));
}

function wrap(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

export const outboxStore = {
  put: (item) => tx(OUTBOX, "readwrite", (s) => wrap(s.put(item))),
  get: (key) => tx(OUTBOX, "readonly", (s) => wrap(s.get(key))),
  remove: (key) => tx(OUTBOX, "readwrite", (s) => wrap(s.delete(key))),
  all: () => tx(OUTBOX, "readonly", (s) => wrap(s.index("created_at").getAll())),
  /** Read, change and write one item in one transaction (no lost updates between tabs). */
  update: (key, change) => tx(OUTBOX, "readwrite", async (s) => {
    const item = await wrap(s.get(key));
    if (!item) return null;
    change(item);
    await wrap(s.put(item));
    return item;
  }),
};

export const draftStore = {
  put: (draft) => tx(DRAFTS, "readwrite", (s) => wrap(s.put(draft))),
  get: (key) => tx(DRAFTS, "readonly", (s) => wrap(s.get(key))),
  remove: (key) => tx(DRAFTS, "readwrite", (s) => wrap(s.delete(key))),
};
