// The app's own API, with the bearer token kept in localStorage (log in once).
const TOKEN_KEY = "rie.token";
const ME_KEY = "rie.me";
export const BASE = "/api/v1";

export class ApiError extends Error {
  constructor({ status = 0, code = "network_error", message = "", message_zh = "", fields = null, details = null, network = false }) {
    super(message || code);
    Object.assign(this, { status, code, message, message_zh, fields, details, network });
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

let onUnauthorized = () => {};
export function setUnauthorizedHandler(fn) { onUnauthorized = fn; }

async function errorFrom(response) {
  let body = null;
  try { body = await response.json(); } catch { /* not JSON */ }
  const e = body && body.error ? body.error : {};
  return new ApiError({ status: response.status, code: e.code || `http_${response.status}`, message: e.message || response.statusText,
                        message_zh: e.message_zh, fields: e.fields, details: e.details });
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
  try {
    response = await fetch(url, { method, headers, body, cache: "no-store" });
  } catch (err) {
    throw new ApiError({ network: true, message: String(err) });
  }
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
