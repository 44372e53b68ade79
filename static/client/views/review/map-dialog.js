// Where it was taken: a small map of one inspection — the village boundary (marked synthetic when
// it is), the submitted location with its accuracy, and each photo's EXIF position — so that
// `outside_village` and `exif_location_far` can be judged at a glance. Leaflet, vector shapes only.
import { api } from "../../api.js";
import { TILE_LAYERS } from "../../config.js";
import { distanceText, haversine } from "../../flags.js";
import { errorText, t } from "../../i18n.js";
import { button, clear, h } from "../../ui.js";
import { loadCss, loadScript } from "../rates/vendor.js";

const NEAR_M = 20_000; // photos farther than this from the location are listed, not fitted into view
const COLOURS = { boundary: "#0b5cad", location: "#b71c1c", photo: "#7a4b00" };

function legend(synthetic) {
  return h("ul", { class: "legend", id: "map-legend" },
    h("li", {}, h("span", { class: "swatch", style: `background:${COLOURS.boundary}` }),
      synthetic ? t("map_boundary_synthetic") : t("map_boundary")),
    h("li", {}, h("span", { class: "swatch", style: `background:${COLOURS.location}` }), t("map_location")),
    h("li", {}, h("span", { class: "swatch", style: `background:${COLOURS.photo}` }), t("map_photos")));
}

/** mapDialog(aspectLabel) → {el, open(item)}. */
export function mapDialog(aspectLabel) {
  const title = h("h2", { id: "map-dialog-title" });
  const mapEl = h("div", { class: "map small-map", id: "inspection-map", role: "img", "aria-label": t("map_where") });
  const facts = h("ul", { class: "small", id: "map-facts" });
  const legendBox = h("div");
  const el = h("dialog", { class: "viewer", id: "map-dialog", "aria-labelledby": "map-dialog-title" },
    h("div", { class: "row" }, title, button(t("close"), () => el.close(), { class: "secondary" })),
    mapEl, legendBox, facts);
  let map = null;
  let layer = null;

  async function open(item) {
    title.textContent = `${t("map_where")} · #${item.id} ${item.village.name}`;
    clear(facts);
    clear(legendBox);
    if (!el.open) el.showModal();
    loadCss("/static/vendor/leaflet/leaflet.css");
    let village;
    try {
      await loadScript("/static/vendor/leaflet/leaflet.js");
      village = await api.get(`/divisions/${item.village.code}`, { geometry: true });
    } catch (err) {
      clear(facts, h("li", { class: "error" }, errorText(err) || String(err)));
      return;
    }
    const L = window.L;
    if (!map) {
      map = L.map(mapEl, { attributionControl: TILE_LAYERS.length > 0, zoomSnap: 0.25 });
      for (const tiles of TILE_LAYERS) L.tileLayer(tiles.url, tiles.options || {}).addTo(map);
    }
    if (layer) layer.remove();
    layer = L.featureGroup(); // filled first, added once the map has its view (circles need it)
    const accuracy = [];
    const focus = L.featureGroup(); // what the view fits: the village and the location (far photos are listed)
    const geometry = village.geometry || {};
    if (geometry.boundary) {
      L.geoJSON(geometry.boundary, { style: { color: COLOURS.boundary, weight: 2, fillOpacity: 0.08, dashArray: geometry.synthetic ? "6 4" : null } })
        .bindTooltip(`${village.name}${geometry.synthetic ? ` (${t("synthetic_short")})` : ""}`).addTo(layer);
      focus.addLayer(L.geoJSON(geometry.boundary));
    } else if (geometry.point) {
      const [lon, lat] = geometry.point.coordinates;
      L.circleMarker([lat, lon], { radius: 5, color: COLOURS.boundary }).bindTooltip(village.name).addTo(layer);
      focus.addLayer(L.marker([lat, lon]));
    }
    const lines = [];
    const loc = item.location;
    if (loc) {
      L.circleMarker([loc.lat, loc.lon], { radius: 7, color: COLOURS.location, fillOpacity: 0.9, className: "map-location" })
        .bindTooltip(t("map_location")).addTo(layer);
      focus.addLayer(L.marker([loc.lat, loc.lon]));
      if (loc.accuracy_m) accuracy.push(L.circle([loc.lat, loc.lon], { radius: loc.accuracy_m, color: COLOURS.location, weight: 1, fillOpacity: 0.1 }));
    } else {
      lines.push(t("map_no_location"));
    }
    item.photos.forEach((p, i) => {
      const label = `${aspectLabel(p.aspect)} ${i + 1}`;
      if (p.exif_lat === null || p.exif_lat === undefined) {
        lines.push(t("map_photo_no_gps", { photo: label }));
        return;
      }
      L.circleMarker([p.exif_lat, p.exif_lon], { radius: 6, color: COLOURS.photo, fillOpacity: 0.9, className: "map-photo" })
        .bindTooltip(label).addTo(layer);
      if (loc) {
        L.polyline([[loc.lat, loc.lon], [p.exif_lat, p.exif_lon]], { color: COLOURS.photo, weight: 1, dashArray: "4 4" }).addTo(layer);
        const metres = haversine(loc.lat, loc.lon, p.exif_lat, p.exif_lon);
        lines.push(t("map_photo_distance", { photo: label, distance: distanceText(metres) }));
        if (metres <= NEAR_M) focus.addLayer(L.marker([p.exif_lat, p.exif_lon]));
      } else {
        focus.addLayer(L.marker([p.exif_lat, p.exif_lon]));
      }
    });
    clear(legendBox, legend(Boolean(geometry.synthetic)));
    clear(facts, lines.map((line) => h("li", {}, line)));
    map.invalidateSize();
    const bounds = focus.getBounds();
    if (bounds.isValid()) map.fitBounds(bounds, { padding: [16, 16], maxZoom: 16 });
    else map.setView([45.3, 131.0], 8); // nothing placed: Jixi
    layer.addTo(map);
    for (const circle of accuracy) circle.addTo(layer);
  }

  return { el, open };
}
