// IndexedDB: the outbox (inspections and their photo blobs waiting for the network).
const DB_NAME = "rie-client";
const DB_VERSION = 1;
const OUTBOX = "outbox";

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
      };
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
  }
  return opening;
}

function tx(mode, fn) {
  return open().then((db) => new Promise((resolve, reject) => {
    const transaction = db.transaction(OUTBOX, mode);
    const store = transaction.objectStore(OUTBOX);
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
  put: (item) => tx("readwrite", (s) => wrap(s.put(item))),
  remove: (key) => tx("readwrite", (s) => wrap(s.delete(key))),
  all: () => tx("readonly", (s) => wrap(s.index("created_at").getAll())),
  /** Read, change and write one item in one transaction (no lost updates between tabs). */
  update: (key, change) => tx("readwrite", async (s) => {
    const item = await wrap(s.get(key));
    if (!item) return null;
    change(item);
    await wrap(s.put(item));
    return item;
  }),
};
