// The trend of one metric this year, month by month (uPlot), with the same numbers as a table.
import { api } from "../../api.js";
import { errorText, percent, t } from "../../i18n.js";
import { clear, field, h } from "../../ui.js";
import { chinaToday, metricSelect } from "./shared.js";
import { loadCss, loadScript } from "./vendor.js";

async function loadTrend(division, metric) {
  const { year, month } = chinaToday();
  await loadScript("/static/vendor/uplot/uPlot.iife.min.js");
  loadCss("/static/vendor/uplot/uPlot.min.css");
  return api.get("/rates/trend", { division, metric, from: `${year}-01`, to: `${year}-${String(month).padStart(2, "0")}`,
                                   granularity: "month" });
}

function trendTable(points) {
  return h("table", { class: "rates" },
    h("thead", {}, h("tr", {}, [t("period"), t("rate"), t("target"), t("gap"), t("coverage")].map((x) => h("th", { scope: "col" }, x)))),
    h("tbody", {}, points.map((p) => h("tr", {}, h("th", { scope: "row" }, p.period), h("td", {}, percent(p.rate)),
      h("td", {}, percent(p.target)), h("td", {}, p.gap), h("td", {}, percent(p.coverage))))));
}

const asPercent = (fraction) => (fraction === null ? null : fraction * 100);

/** The uPlot options of a trend: the rate and the target per period, in percent. */
function chartOptions(data, width) {
  const { points } = data;
  return {
    width, height: 240,
    title: `${data.division.name} · ${t(`metric_${data.metric}`)}`,
    scales: { x: { time: false }, y: { range: [0, 100] } },
    axes: [{ values: (u, ticks) => ticks.map((i) => points[i]?.period ?? "") }, { values: (u, ticks) => ticks.map((v) => `${v}%`) }],
    series: [{ label: t("period"), value: (u, i) => points[i]?.period ?? "" },
      { label: t("rate"), stroke: "#0b5cad", width: 2, value: (u, v) => (v === null ? "—" : `${v.toFixed(1)} %`) },
      { label: t("target"), stroke: "#c62828", dash: [6, 4], width: 1.5, value: (u, v) => (v === null ? "—" : `${v.toFixed(0)} %`) }],
  };
}

/** trendChart(current) → {el, draw(), destroy()}; current() → {division, stale()}. */
export function trendChart(current) {
  const select = metricSelect("trend-metric");
  const chartEl = h("div", { id: "trend-chart", class: "chart" });
  const table = h("div", { class: "table-wrap" });
  let chart = null;

  async function draw() {
    const query = current();
    let data;
    try {
      data = await loadTrend(query.division, select.value);
    } catch (err) {
      clear(chartEl, h("p", { class: "error" }, errorText(err) || String(err)));
      return;
    }
    if (query.stale()) return;
    if (chart) chart.destroy();
    clear(chartEl);
    const width = Math.max(280, Math.min(chartEl.clientWidth || 640, 900));
    const { points } = data;
    chart = new window.uPlot(chartOptions(data, width), [points.map((_, i) => i), points.map((p) => asPercent(p.rate)),
      points.map((p) => asPercent(p.target))], chartEl);
    clear(table, trendTable(points));
  }

  select.addEventListener("change", draw);
  const el = h("section", { class: "card", "aria-labelledby": "trend-h" }, h("h2", { id: "trend-h" }, t("trend_title")),
    field(t("metric"), select), chartEl, h("details", {}, h("summary", {}, t("trend_title")), table));
  return { el, draw, destroy: () => { if (chart) chart.destroy(); } };
}
