// Bureau: rates by level against the targets, a map of villages by status, a trend per metric,
// and exports. Leaflet and uPlot (vendored) are loaded only on this screen.
import { api, download } from "../api.js";
import { TILE_LAYERS } from "../config.js";
import { errorText, formatDateTime, lang, percent, t } from "../i18n.js";
import { announce, button, clear, field, h, spinner } from "../ui.js";

const METRICS = ["garbage_stable", "sewage_treated", "village_clean", "tap_water"];
const LEVELS = ["province", "city", "county", "township", "village"];
const STATUS_COLOUR = { met: "#1a7f37", not_met: "#c62828", unknown: "#8a8a8a" };

const loaded = new Map();
function loadScript(src) {
  if (!loaded.has(src)) {
    loaded.set(src, new Promise((resolve, reject) => {
      const s = document.createElement("script");
      s.src = src;
      s.onload = resolve;
      s.onerror = () => reject(new Error(`cannot load ${src}`));
      document.head.append(s);
    }));
  }
  return loaded.get(src);
}
function loadCss(href) {
  if (!document.querySelector(`link[href="${href}"]`)) document.head.append(h("link", { rel: "stylesheet", href }));
}

function chinaToday() {
  const parts = Object.fromEntries(new Intl.DateTimeFormat("en", { timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit" })
    .formatToParts(new Date()).map((p) => [p.type, p.value]));
  return { year: Number(parts.year), month: Number(parts.month) };
}

function periodOptions() {
  const { year, month } = chinaToday();
  const out = [String(year)];
  for (let q = Math.ceil(month / 3); q >= 1; q -= 1) out.push(`${year}-Q${q}`);
  for (let m = month; m >= 1; m -= 1) out.push(`${year}-${String(m).padStart(2, "0")}`);
  out.push(String(year - 1));
  return out;
}

function levelsBelow(level) {
  return LEVELS.slice(LEVELS.indexOf(level) + 1);
}

function statusText(status) {
  return { met: `✓ ${t("legend_met")}`, not_met: `✗ ${t("legend_not_met")}`, unknown: `? ${t("legend_unknown")}` }[status] || status;
}

export async function renderRates(main, { me }) {
  const state = {
    stack: [], // divisions visited above the current one (for "up")
    division: me.scope.code,
    period: periodOptions()[0],
    level: null,
    result: null,
    mapMetric: "garbage_stable",
    trendMetric: "garbage_stable",
  };

  const periodSelect = h("select", { name: "period", id: "period" }, periodOptions().map((p) => h("option", { value: p }, p)));
  const levelSelect = h("select", { name: "level", id: "level" });
  const upButton = button(`↑ ${t("up")}`, () => {
    const previous = state.stack.pop();
    if (previous) {
      state.division = previous;
      state.level = null;
      refresh();
    }
  }, { class: "secondary", id: "rates-up" });
  const controls = h("form", { class: "controls", "aria-label": t("rates_title") },
    field(t("period"), periodSelect), field(t("level"), levelSelect),
    h("div", { class: "field" }, h("button", { type: "submit", class: "primary" }, t("show"))), upButton);
  controls.addEventListener("submit", (event) => {
    event.preventDefault();
    state.period = periodSelect.value;
    state.level = levelSelect.value;
    refresh();
  });

  const heading = h("h1", {}, t("rates_title"));
  const meta = h("p", { class: "muted", id: "rates-meta" });
  const tableWrap = h("div", { class: "table-wrap", tabindex: 0, role: "region", "aria-labelledby": "rates-caption", id: "rates-table" });
  const exports = h("div", { class: "actions", id: "exports" },
    ["xlsx", "csv", "geojson"].map((fmt) => button(t(`export_${fmt}`), () => exportAs(fmt), { dataset: { format: fmt } })));

  const mapMetric = h("select", { name: "map-metric", id: "map-metric" }, METRICS.map((m) => h("option", { value: m }, t(`metric_${m}`))));
  const mapEl = h("div", { id: "map", class: "map", role: "img", "aria-label": t("map_title") });
  const legend = h("ul", { class: "legend", "aria-label": t("map_title") },
    ["met", "not_met", "unknown"].map((s) => h("li", {}, h("span", { class: "swatch", style: `background:${STATUS_COLOUR[s]}` }), statusText(s))));
  const mapNote = h("p", { class: "muted" });

  const trendMetric = h("select", { name: "trend-metric", id: "trend-metric" }, METRICS.map((m) => h("option", { value: m }, t(`metric_${m}`))));
  const chartEl = h("div", { id: "trend-chart", class: "chart" });
  const trendTable = h("div", { class: "table-wrap" });

  main.append(heading, controls, meta, tableWrap, exports,
    h("section", { class: "card", "aria-labelledby": "map-h" }, h("h2", { id: "map-h" }, t("map_title")),
      field(t("map_metric"), mapMetric), mapEl, legend, mapNote),
    h("section", { class: "card", "aria-labelledby": "trend-h" }, h("h2", { id: "trend-h" }, t("trend_title")),
      field(t("metric"), trendMetric), chartEl, h("details", {}, h("summary", {}, t("trend_title")), trendTable)));

  mapMetric.addEventListener("change", () => { state.mapMetric = mapMetric.value; drawMap(); });
  trendMetric.addEventListener("change", () => { state.trendMetric = trendMetric.value; drawTrend(); });

  let map = null;
  let mapLayer = null;
  let geojson = null;
  let chart = null;
  let generation = 0; // answers from an earlier selection are dropped

  async function refresh() {
    generation += 1;
    clear(tableWrap, spinner());
    try {
      state.result = await api.get("/rates", { division: state.division, period: state.period, level: state.level || undefined });
    } catch (err) {
      clear(tableWrap, h("p", { class: "error", role: "alert" }, errorText(err)));
      return;
    }
    const r = state.result;
    state.level = r.level;
    clear(levelSelect, levelsBelow(r.division.level).map((l) => h("option", { value: l, selected: l === r.level }, t(`level_${l}`))));
    periodSelect.value = r.period;
    upButton.hidden = !state.stack.length;
    heading.textContent = `${t("rates_title")} · ${r.division.name}`;
    meta.textContent = `${t("period")}: ${r.period} · ${t("as_of", { time: formatDateTime(r.as_of) })}`;
    renderTable(r);
    drawMap();
    drawTrend();
  }

  function renderTable(r) {
    const isVillage = r.level === "village";
    const head = h("tr", {}, h("th", { scope: "col" }, t("name")),
      isVillage ? null : h("th", { scope: "col" }, t("population")),
      METRICS.map((m) => h("th", { scope: "col" }, t(`metric_${m}`))));
    const rows = [...r.rows.map((row) => ({ row, total: false })), ...(isVillage ? [] : [{ row: r.division, total: true }])];
    const body = rows.map(({ row, total }) => h("tr", { class: total ? "total" : "", dataset: { code: row.code } },
      h("th", { scope: "row" }, total || isVillage ? row.name : button(row.name, () => drill(row), { class: "link", title: t("drill") })),
      isVillage ? null : h("td", { class: "num" }, row.population),
      METRICS.map((m) => (isVillage ? villageCell(row.metrics?.[m]) : metricCell(row.metrics?.[m])))));
    clear(tableWrap, h("table", { class: "rates" },
      h("caption", { id: "rates-caption" }, `${r.division.name} · ${t(`level_${r.level}`)} · ${r.period}`),
      h("thead", {}, head), h("tbody", {}, body)));
  }

  function metricCell(m) {
    if (!m) return h("td", {}, "—");
    const cls = m.on_target === true ? "on" : m.on_target === false ? "off" : "";
    const status = m.on_target === true ? t("on_target") : m.on_target === false ? t("off_target") : "—";
    return h("td", { class: `metric ${cls}` },
      h("div", { class: "rate" }, h("strong", {}, percent(m.rate)), " ", h("span", { class: "status" }, status)),
      h("div", { class: "small" }, `${m.met}/${m.met + m.not_met + m.unknown}`, ` · ${t("target")} ${percent(m.target)}`,
        ` · ${t("gap")} ${m.gap}`, m.unknown ? ` · ${t("unknown_n", { n: m.unknown })}` : ""));
  }

  function villageCell(m) {
    if (!m) return h("td", {}, "—");
    return h("td", { class: `metric village-${m.status}` }, statusText(m.status),
      m.inspection_id ? h("span", { class: "small" }, ` #${m.inspection_id}`) : null);
  }

  function drill(row) {
    state.stack.push(state.division);
    state.division = row.code;
    state.level = null;
    refresh();
  }

  async function drawMap() {
    const mine = generation;
    try {
      loadCss("/static/vendor/leaflet/leaflet.css");
      await loadScript("/static/vendor/leaflet/leaflet.js");
      const response = await api.raw("/rates/export", { format: "geojson", division: state.division, period: state.period, level: "village" });
      geojson = await response.json();
    } catch (err) {
      mapNote.textContent = errorText(err) || String(err);
      return;
    }
    if (mine !== generation) return;
    const L = window.L;
    if (!map) {
      map = L.map(mapEl, { attributionControl: TILE_LAYERS.length > 0, zoomSnap: 0.25 });
      for (const layer of TILE_LAYERS) L.tileLayer(layer.url, layer.options || {}).addTo(map);
    }
    if (mapLayer) mapLayer.remove();
    const key = `${state.mapMetric}.status`;
    mapLayer = L.geoJSON(geojson, {
      filter: (f) => Boolean(f.geometry),
      style: (f) => ({ color: "#333", weight: 0.6, fillOpacity: 0.7, fillColor: STATUS_COLOUR[f.properties[key]] || STATUS_COLOUR.unknown }),
      pointToLayer: (f, latlng) => L.circleMarker(latlng, { radius: 5 }),
      onEachFeature: (f, layer) => layer.bindTooltip(`${f.properties.name}: ${statusText(f.properties[key])}`),
    }).addTo(map);
    const bounds = mapLayer.getBounds();
    if (bounds.isValid()) map.fitBounds(bounds, { padding: [8, 8] });
    setTimeout(() => map.invalidateSize(), 0);
    const counts = { met: 0, not_met: 0, unknown: 0 };
    for (const f of geojson.features || []) if (f.properties.counted !== false) counts[f.properties[key]] = (counts[f.properties[key]] || 0) + 1;
    mapNote.textContent = `${t(`metric_${state.mapMetric}`)}: ${statusText("met")} ${counts.met}, ${statusText("not_met")} ${counts.not_met}, `
      + `${statusText("unknown")} ${counts.unknown}. ${t("synthetic_note")}`;
  }

  async function drawTrend() {
    const mine = generation;
    const { year, month } = chinaToday();
    let data;
    try {
      await loadScript("/static/vendor/uplot/uPlot.iife.min.js");
      loadCss("/static/vendor/uplot/uPlot.min.css");
      data = await api.get("/rates/trend", { division: state.division, metric: state.trendMetric, from: `${year}-01`,
                                             to: `${year}-${String(month).padStart(2, "0")}`, granularity: "month" });
    } catch (err) {
      clear(chartEl, h("p", { class: "error" }, errorText(err) || String(err)));
      return;
    }
    if (mine !== generation) return;
    const points = data.points || [];
    const xs = points.map((_, i) => i);
    const rates = points.map((p) => (p.rate === null || p.rate === undefined ? null : p.rate * 100));
    const targets = points.map((p) => (p.target === null || p.target === undefined ? null : p.target * 100));
    if (chart) chart.destroy();
    clear(chartEl);
    const width = Math.max(280, Math.min(chartEl.clientWidth || 640, 900));
    chart = new window.uPlot({
      width, height: 240,
      title: `${data.division?.name || ""} · ${t(`metric_${state.trendMetric}`)}`,
      scales: { x: { time: false }, y: { range: [0, 100] } },
      axes: [{ values: (u, ticks) => ticks.map((i) => points[i]?.period ?? "") }, { values: (u, ticks) => ticks.map((v) => `${v}%`) }],
      series: [{ label: t("period"), value: (u, i) => points[i]?.period ?? "" },
        { label: t("rate"), stroke: "#0b5cad", width: 2, value: (u, v) => (v === null ? "—" : `${v.toFixed(1)} %`) },
        { label: t("target"), stroke: "#c62828", dash: [6, 4], width: 1.5, value: (u, v) => (v === null ? "—" : `${v.toFixed(0)} %`) }],
    }, [xs, rates, targets], chartEl);
    clear(trendTable, h("table", { class: "rates" },
      h("thead", {}, h("tr", {}, [t("period"), t("rate"), t("target"), t("gap"), t("coverage")].map((x) => h("th", { scope: "col" }, x)))),
      h("tbody", {}, points.map((p) => h("tr", {}, h("th", { scope: "row" }, p.period), h("td", {}, percent(p.rate)),
        h("td", {}, percent(p.target)), h("td", {}, p.gap), h("td", {}, percent(p.coverage)))))));
  }

  async function exportAs(fmt) {
    try {
      const name = await download("/rates/export", { format: fmt, division: state.division, period: state.period,
                                                      level: state.level, lang: lang() === "en" ? "en" : "zh" },
                                  `rates-${state.division}-${state.period}.${fmt}`);
      announce(name, "ok");
    } catch (err) {
      announce(errorText(err), "error");
    }
  }

  await refresh();
  return () => { if (map) map.remove(); if (chart) chart.destroy(); };
}
