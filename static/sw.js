// Keeps the client's own files so it opens without a network (offline-first for inspectors).
// Network first, cache as the fallback: a deployed change is picked up whenever online.
// The API is never cached here: the outbox in IndexedDB handles offline submissions.
const CACHE = "rie-shell-v8";
const SHELL = [
  "/",
  "/static/client/app.css",
  "/static/client/main.js",
  "/static/client/api.js",
  "/static/client/i18n.js",
  "/static/client/db.js",
  "/static/client/outbox.js",
  "/static/client/photo.js",
  "/static/client/checklist.js",
  "/static/client/checklist-data.js",
  "/static/client/config.js",
  "/static/client/flags.js",
  "/static/client/ui.js",
  "/static/client/views/login.js",
  "/static/client/views/inspect.js",
  "/static/client/views/inspect/aspect.js",
  "/static/client/views/inspect/draft.js",
  "/static/client/views/inspect/photos.js",
  "/static/client/views/inspect/submit.js",
  "/static/client/views/inspect/where.js",
  "/static/client/views/outbox.js",
  "/static/client/views/due.js",
  "/static/client/views/odk.js",
  "/static/client/views/mine.js",
  "/static/client/views/inspection.js",
  "/static/client/views/answers.js",
  "/static/client/views/offline-copy.js",
  "/static/client/views/review.js",
  "/static/client/views/review/card.js",
  "/static/client/views/review/comment-dialog.js",
  "/static/client/views/review/compare-dialog.js",
  "/static/client/views/review/controls.js",
  "/static/client/views/review/keys.js",
  "/static/client/views/review/map-dialog.js",
  "/static/client/views/review/photo-viewer.js",
  "/static/client/views/review/queue.js",
  "/static/client/views/review/thumbs.js",
  "/static/client/views/rates.js",
  "/static/client/views/rates/controls.js",
  "/static/client/views/rates/evidence.js",
  "/static/client/views/rates/map.js",
  "/static/client/views/rates/print.js",
  "/static/client/views/rates/shared.js",
  "/static/client/views/rates/table.js",
  "/static/client/views/rates/trend.js",
  "/static/client/views/rates/vendor.js",
  "/static/client/views/admin/users.js",
  "/static/client/views/admin/audit.js",
  "/static/client/views/admin/webhooks.js",
  "/static/client/views/admin/targets.js",
  "/static/client/views/admin/divisions.js",
  "/static/client/views/admin/imports.js",
  "/static/client/views/password.js",
  "/static/client/manifest.webmanifest",
];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin) return;
  if (url.pathname.startsWith("/api/")) return;
  if (!(url.pathname === "/" || url.pathname.startsWith("/static/"))) return;
  event.respondWith(fetch(event.request).then((response) => {
    if (response.ok) {
      const copy = response.clone();
      caches.open(CACHE).then((cache) => cache.put(event.request, copy));
    }
    return response;
  }).catch(() => caches.match(event.request, { ignoreSearch: true })
    .then((hit) => hit || (event.request.mode === "navigate" ? caches.match("/") : Response.error()))));
});
