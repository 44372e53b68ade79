// Where am I: the villages of the inspector's scope (kept for offline use), a filter, and the
// phone's position, matched to a village by the server when online. Without a position (GPS denied
// or unavailable) the village is chosen by hand and the inspection goes without one: the server
// flags it `no_location` for the reviewer.
import { allPages, api, session } from "../../api.js";
import { distanceText } from "../../flags.js";
import { errorText, t } from "../../i18n.js";
import { button, field, h } from "../../ui.js";

const VILLAGES_KEY = "rie.villages";

/** [{code, name, parent_code}] of the villages in scope; the last list fetched when offline. */
export async function loadVillages() {
  const cacheKey = `${VILLAGES_KEY}.${session.me?.scope?.code || ""}`;
  try {
    const items = await allPages("/divisions", { level: "village" });
    const villages = items.map((v) => ({ code: v.code, name: v.name, parent_code: v.parent_code }));
    localStorage.setItem(cacheKey, JSON.stringify(villages));
    return villages;
  } catch {
    try { return JSON.parse(localStorage.getItem(cacheKey) || "[]"); } catch { return []; }
  }
}

function getPosition() {
  return new Promise((resolve, reject) => {
    if (!("geolocation" in navigator)) {
      reject(new Error(t("geo_unsupported")));
      return;
    }
    navigator.geolocation.getCurrentPosition(resolve, reject, { enableHighAccuracy: true, timeout: 20_000, maximumAge: 60_000 });
  });
}

function villageSelect(villages) {
  return h("select", { name: "village", required: true },
    h("option", { value: "" }, t("choose_village")),
    villages.map((v) => h("option", { value: v.code }, `${v.name} (${v.code})`)));
}

/** A search box that hides the villages whose name does not contain what is typed. */
function villageFilter(select) {
  const filter = h("input", { type: "search", name: "village-filter", autocomplete: "off" });
  filter.addEventListener("input", () => {
    const q = filter.value.trim();
    for (const option of select.options) {
      if (option.value) option.hidden = Boolean(q) && !option.textContent.includes(q);
    }
  });
  return filter;
}

/** The village the server finds at `position` (chosen in `select`), in words with the accuracy. */
async function placeText(position, select) {
  const accuracy = t("accuracy", { accuracy: distanceText(position.accuracy_m) });
  if (!navigator.onLine) return `${t("geo_offline")} (${accuracy})`;
  try {
    const found = await api.get("/divisions/locate", { lat: position.lat, lon: position.lon });
    select.value = found.village.code;
    const message = found.inside
      ? t("located_inside", { village: found.village.name, township: found.township?.name || "" })
      : t("located_near", { village: found.village.name, distance: distanceText(found.distance_m) });
    return `${message} (${accuracy})`;
  } catch (err) {
    return err.network ? `${t("geo_offline")} (${accuracy})` : errorText(err);
  }
}

function geoReason(err) {
  if (err && err.code === 1) return t("geo_reason_denied");
  if (err && err.code === 2) return t("geo_reason_unavailable");
  if (err && err.code === 3) return t("geo_reason_timeout");
  return err?.message || String(err);
}

/** wherePicker(villages, start, onChange) → {el, village(), villageName(), position()}; start is
 *  {village, position} (a returned inspection's, a draft's); position is {lat, lon, accuracy_m}
 *  once located, else null. */
export function wherePicker(villages, start, onChange = () => {}) {
  const select = villageSelect(villages);
  const result = h("p", { id: "where-result", role: "status", class: "muted" });
  const noGps = h("p", { id: "no-gps-hint", class: "notice-text" }, t("no_location_hint"));
  const locateButton = button(t("where_am_i"), locate, { class: "primary", id: "where-am-i" });
  let position = null;

  function showPosition() {
    noGps.hidden = Boolean(position);
  }

  async function locate() {
    locateButton.disabled = true;
    result.textContent = t("locating");
    try {
      const { coords } = await getPosition();
      position = { lat: coords.latitude, lon: coords.longitude, accuracy_m: Math.round(coords.accuracy) };
      showPosition();
      result.textContent = await placeText(position, select);
      onChange();
    } catch (err) {
      result.textContent = t("geo_denied", { reason: geoReason(err) });
      select.focus();
    } finally {
      locateButton.disabled = false;
    }
  }

  if (start?.village) select.value = start.village;
  if (start?.position) {
    position = { ...start.position };
    result.textContent = t("accuracy", { accuracy: distanceText(position.accuracy_m) });
  }
  showPosition();
  select.addEventListener("change", onChange);
  const el = h("section", { class: "card", "aria-labelledby": "where-h" },
    h("h2", { id: "where-h" }, t("village")),
    locateButton, result, noGps,
    field(t("search_village"), villageFilter(select)),
    field(t("village"), select));
  return {
    el,
    village: () => select.value,
    villageName: () => villages.find((v) => v.code === select.value)?.name || select.value,
    position: () => position,
  };
}
