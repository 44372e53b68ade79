// The map of the villages by status for one metric (Leaflet, vector shapes; base tiles only when
// config.js sets them), its legend and the counts in words. A click on a village opens its evidence.
import { api } from "../../api.js";
import { TILE_LAYERS } from "../../config.js";
import { errorText, t } from "../../i18n.js";
import { field, h } from "../../ui.js";
import { STATUS_COLOUR, metricSelect, statusText } from "./shared.js";
import { loadCss, loadScript } from "./vendor.js";

async function villageShapes({ division, period }) {
  loadCss("/static/vendor/leaflet/leaflet.css");
  await loadScript("/static/vendor/leaflet/leaflet.js");
  const response = await api.raw("/rates/export", { format: "geojson", division, period, level: "village" });
  return response.json();
}

function legend() {
  return h("ul", { class: "legend", "aria-label": t("map_title") }, ["met", "not_met", "unknown", "not_counted"].map((s) =>
    h("li", {}, swatch(STATUS_COLOUR[s]), statusText(s))));
}

function countsText(geojson, metric) {
  const key = `${metric}.status`;
  const counts = { met: 0, not_met: 0, unknown: 0 };
  for (const f of geojson.features) if (f.properties.counted !== false) counts[f.properties[key]] += 1;
  return `${t(`metric_${metric}`)}: ${statusText("met")} ${counts.met}, ${statusText("not_met")} ${counts.not_met}, `
    + `${statusText("unknown")} ${counts.unknown}. ${t("synthetic_note")}`;
}

/** A village's status for the map: 不纳入统计 for the kinds not counted (urban communities, farms). */
function statusOf(properties, key) {
  return properties.counted === false ? "not_counted" : properties[key];
}

/** statusMap(current, {onVillage, below}) → {el, draw(), destroy()}; current() → {division, period, stale()};
 * onVillage(code, name) when a village is clicked; `below`: an element shown under the map (its evidence). */
export function statusMap(current, { onVillage, below } = {}) {
  const select = metricSelect("map-metric");
  const mapEl = h("div", { id: "map", class: "map", role: "img", "aria-label": t("map_title") });
  const note = h("p", { class: "muted" });
  let map = null;
  let layer = null;
  let draws = 0; // a draw overtaken by a later one (another metric, division or period) is dropped

  function show(geojson, metric) {
    const L = window.L;
    if (!map) {
      map = L.map(mapEl, { attributionControl: TILE_LAYERS.length > 0, zoomSnap: 0.25 });
      for (const tiles of TILE_LAYERS) L.tileLayer(tiles.url, tiles.options || {}).addTo(map);
    }
    if (layer) layer.remove();
    const key = `${metric}.status`;
    layer = L.geoJSON(geojson, {
      filter: (f) => Boolean(f.geometry),
      style: (f) => ({ color: "#333", weight: 0.6, fillOpacity: 0.7, fillColor: STATUS_COLOUR[statusOf(f.properties, key)],
                       dashArray: f.properties.counted === false ? "3 3" : null }),
      pointToLayer: (f, latlng) => L.circleMarker(latlng, { radius: 5 }),
      onEachFeature: (f, l) => {
        const { code, name } = f.properties;
        l.bindTooltip(`${name}: ${statusText(statusOf(f.properties, key))}`);
        l.on("add", () => { const path = l.getElement(); if (path) { path.dataset.code = code; path.classList.add("village-shape"); } });
        if (onVillage) l.on("click", () => onVillage(code, name));
      },
    }).addTo(map);
    const bounds = layer.getBounds();
    if (bounds.isValid()) map.fitBounds(bounds, { padding: [8, 8], animate: false });
    setTimeout(() => map.invalidateSize(), 0);
  }

  async function draw() {
    const query = current();
    const mine = ++draws;
    let geojson;
    try {
      geojson = await villageShapes(query);
    } catch (err) {
      if (mine === draws && !query.stale()) note.textContent = errorText(err) || String(err);
      return;
    }
    if (mine !== draws || query.stale()) return;
    show(geojson, select.value);
    note.textContent = countsText(geojson, select.value);
    Object.assign(mapEl.dataset, { division: query.division, period: query.period, metric: select.value }); // what is drawn
  }

  /** Print (or its preview) gives the map another size (A4 landscape, 120 mm high): fit the villages again. */
  function refit() {
    if (!map || !layer) return;
    map.invalidateSize({ animate: false });
    const bounds = layer.getBounds();
    if (bounds.isValid()) map.fitBounds(bounds, { padding: [8, 8], animate: false });
  }
  const printing = window.matchMedia("print");
  printing.addEventListener("change", refit);

  select.addEventListener("change", draw);
  const el = h("section", { class: "card", "aria-labelledby": "map-h" }, h("h2", { id: "map-h" }, t("map_title")),
    field(t("map_metric"), select), onVillage ? h("p", { class: "small no-print" }, t("map_click_hint")) : null, mapEl, legend(), note, below || null);
  return { el, draw, destroy: () => { printing.removeEventListener("change", refit); if (map) map.remove(); } };
}


/** A legend colour set through the CSSOM (not a style attribute), so it shows under any CSP. */
function swatch(colour) {
  const el = h("span", { class: "swatch" });
  el.style.background = colour;
  return el;
}
