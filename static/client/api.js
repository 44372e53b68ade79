// The app's own API, with the bearer token kept in localStorage (log in once). Every answer's
// `Date` header tells the server's clock: the offset to the phone's clock is kept (clockOffset) so
// that an inspection's time can be corrected when the phone's clock is wrong.
const TOKEN_KEY = "rie.token";
const ME_KEY = "rie.me";
const CLOCK_KEY = "rie.clock";
export const BASE = "/api/v1";

export class ApiError extends Error {
  constructor({ status = 0, code = "network_error", message = "", message_zh = "", fields = null, fields_zh = null,
                details = null, network = false }) {
    super(message || code);
    Object.assign(this, { status, code, message, message_zh, fields, fields_zh, details, network });
  }

  /** Worth trying again later: no network, a server hiccup, or throttling. */
  get retryable() {
    return this.network || this.status >= 500 || this.status === 429 || this.status === 408;
  }
}

export const session = {
  get token() { return localStorage.getItem(TOKEN_KEY); },
  get me() {
    try { return JSON.parse(localStorage.getItem(ME_KEY) || "null"); } catch { return null; }
  },
  save(token, me) {
    localStorage.setItem(TOKEN_KEY, token);
    localStorage.setItem(ME_KEY, JSON.stringify(me));
  },
  clear() {
    localStorage.removeItem(TOKEN_KEY);
    localStorage.removeItem(ME_KEY);
  },
};

/** Learn the server's clock from an answer's Date header (whole seconds: +0.5 s on average),
 *  against the middle of the request's round trip on the phone's clock. */
export function noteServerDate(dateHeader, sentAt, receivedAt) {
  const server = Date.parse(dateHeader || "");
  if (Number.isNaN(server)) return;
  const offset = server + 500 - (sentAt + receivedAt) / 2;
  localStorage.setItem(CLOCK_KEY, JSON.stringify({ offset_ms: Math.round(offset), measured_at: new Date(receivedAt).toISOString(),
                                                   round_trip_ms: receivedAt - sentAt }));
}

/** {offset_ms, measured_at} (server clock − phone clock), or null before any answer was seen. */
export function clockOffset() {
  try { return JSON.parse(localStorage.getItem(CLOCK_KEY) || "null"); } catch { return null; }
}

let onUnauthorized = () => {};
export function setUnauthorizedHandler(fn) { onUnauthorized = fn; }

async function errorFrom(response) {
  let body = null;
  try { body = await response.json(); } catch { /* not JSON */ }
  const e = body && body.error ? body.error : {};
  return new ApiError({ status: response.status, code: e.code || `http_${response.status}`, message: e.message || response.statusText,
                        message_zh: e.message_zh, fields: e.fields, fields_zh: e.fields_zh, details: e.details });
}

/** request("GET", "/rates", {query, json, form, raw}): `path` is under /api/v1; → parsed JSON (or the Response when raw). */
export async function request(method, path, { query, json, form, raw = false, auth = true } = {}) {
  let url = BASE + path;
  if (query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== "") q.set(k, v);
    const s = q.toString();
    if (s) url += (url.includes("?") ? "&" : "?") + s;
  }
  const headers = { Accept: "application/json" };
  if (auth && session.token) headers.Authorization = `Bearer ${session.token}`;
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form) {
    body = form;
  }
  let response;
  const sentAt = Date.now();
  try {
    response = await fetch(url, { method, headers, body, cache: "no-store" });
  } catch (err) {
    throw new ApiError({ network: true, message: String(err) });
  }
  noteServerDate(response.headers.get("Date"), sentAt, Date.now());
  if (!response.ok) {
    const error = await errorFrom(response);
    if (response.status === 401 && auth) onUnauthorized(error);
    throw error;
  }
  if (raw) return response;
  if (response.status === 204) return null;
  const type = response.headers.get("Content-Type") || "";
  return type.includes("json") ? response.json() : response.text();
}

export const api = {
  get: (path, query) => request("GET", path, { query }),
  post: (path, json) => request("POST", path, { json }),
  put: (path, json) => request("PUT", path, { json }),
  upload: (path, form) => request("POST", path, { form }),
  blob: async (path, query) => (await request("GET", path, { query, raw: true })).blob(),
  raw: (path, query) => request("GET", path, { query, raw: true }),
};

/** POST a multipart form with upload progress (fetch has none): onProgress(loaded, total) as the
 *  bytes go out. Same answers and errors as request(). */
export function uploadWithProgress(path, form, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", BASE + path);
    xhr.setRequestHeader("Accept", "application/json");
    if (session.token) xhr.setRequestHeader("Authorization", `Bearer ${session.token}`);
    const sentAt = Date.now();
    xhr.upload.onprogress = (event) => { if (event.lengthComputable) onProgress?.(event.loaded, event.total); };
    xhr.onerror = () => reject(new ApiError({ network: true, message: "upload failed" }));
    xhr.ontimeout = xhr.onerror;
    xhr.onload = () => {
      noteServerDate(xhr.getResponseHeader("Date"), sentAt, Date.now());
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch { /* not JSON */ }
      if (xhr.status >= 200 && xhr.status < 300) {
        resolve(body);
        return;
      }
      const e = body && body.error ? body.error : {};
      const error = new ApiError({ status: xhr.status, code: e.code || `http_${xhr.status}`, message: e.message || xhr.statusText,
                                   message_zh: e.message_zh, fields: e.fields, fields_zh: e.fields_zh, details: e.details });
      if (xhr.status === 401) onUnauthorized(error);
      reject(error);
    };
    xhr.send(form);
  });
}

/** Fetch every page of a paginated list ({items, pages}; small lists only: the villages of a scope). */
export async function allPages(path, query = {}, limit = 20) {
  const items = [];
  for (let page = 1; page <= limit; page += 1) {
    const data = await api.get(path, { ...query, page, per_page: 200 });
    items.push(...data.items);
    if (page >= data.pages) break;
  }
  return items;
}

// Photo variants need the bearer token, so <img> cannot load them directly: fetch → object URL, cached.
const imageCache = new Map();
export function photoUrl(id, variant = "thumb") {
  const key = `${id}/${variant}`;
  if (!imageCache.has(key)) {
    const promise = api.blob(`/photos/${encodeURIComponent(id)}/${variant}`).then((b) => URL.createObjectURL(b));
    promise.catch(() => imageCache.delete(key));
    imageCache.set(key, promise);
  }
  return imageCache.get(key);
}

/** Download an authenticated file (exports) through a blob link. */
export async function download(path, query, fallbackName) {
  const response = await request("GET", path, { query, raw: true });
  const blob = await response.blob();
  const disposition = response.headers.get("Content-Disposition") || "";
  const match = /filename\*=UTF-8''([^;]+)|filename="?([^";]+)"?/i.exec(disposition);
  const name = match ? decodeURIComponent(match[1] || match[2]) : fallbackName;
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
  return name;
}
