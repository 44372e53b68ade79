// The trend of one metric this year, month by month (uPlot), with the same numbers as a table. A
// click on a point (or on a period in the table) shows that period's rates; the period shown is marked.
import { api } from "../../api.js";
import { errorText, percent, t } from "../../i18n.js";
import { button, clear, field, h } from "../../ui.js";
import { chinaToday, metricSelect } from "./shared.js";
import { loadCss, loadScript } from "./vendor.js";

async function loadTrend(division, metric) {
  const { year, month } = chinaToday();
  await loadScript("/static/vendor/uplot/uPlot.iife.min.js");
  loadCss("/static/vendor/uplot/uPlot.min.css");
  return api.get("/rates/trend", { division, metric, from: `${year}-01`, to: `${year}-${String(month).padStart(2, "0")}`,
                                   granularity: "month" });
}

function trendTable(points, selected, onPeriod) {
  const households = points.some((p) => p.basis === "households"); // tap water: its rate and gap in households
  const heads = [t("period"), households ? `${t("rate")} · ${t("by_household")}` : t("rate"), t("target"),
    households ? t("gap_households") : t("gap"), t("coverage")];
  return h("table", { class: "rates" },
    h("thead", {}, h("tr", {}, heads.map((x) => h("th", { scope: "col" }, x)))),
    h("tbody", {}, points.map((p) => h("tr", { class: p.period === selected ? "selected" : "", dataset: { period: p.period } },
      h("th", { scope: "row" }, onPeriod ? button(p.period, () => onPeriod(p.period), { class: "link", title: t("trend_show_period"),
                                                                                       "aria-current": p.period === selected ? "true" : null })
        : p.period),
      h("td", {}, percent(p.rate)), h("td", {}, percent(p.target)), h("td", {}, p.gap), h("td", {}, percent(p.coverage))))));
}

const asPercent = (fraction) => (fraction === null ? null : fraction * 100);

/** A dashed vertical line at the period shown (uPlot draw hook). */
function markSelected(u, index) {
  if (index < 0) return;
  const x = Math.round(u.valToPos(index, "x", true));
  const { ctx } = u;
  ctx.save();
  ctx.strokeStyle = "#555";
  ctx.setLineDash([4, 4]);
  ctx.lineWidth = 1;
  ctx.beginPath();
  ctx.moveTo(x, u.bbox.top);
  ctx.lineTo(x, u.bbox.top + u.bbox.height);
  ctx.stroke();
  ctx.restore();
}

/** The uPlot options of a trend: the rate and the target per period, in percent. A click on the plot
 * calls onPeriod with the period of the nearest point. */
function chartOptions(data, width, selected, onPeriod) {
  const { points } = data;
  const index = points.findIndex((p) => p.period === selected);
  return {
    width, height: 240,
    // no drag-to-zoom, and no click swallowed as the end of a drag: a click picks a period
    cursor: { points: { size: 10 }, drag: { x: false, y: false, click: () => {} } },
    hooks: {
      draw: [(u) => markSelected(u, index)],
      ready: onPeriod ? [(u) => u.over.addEventListener("click", (event) => {
        const i = u.posToIdx(event.clientX - u.over.getBoundingClientRect().left); // the nearest point (a tap too)
        if (points[i]) onPeriod(points[i].period);
      })] : [],
    },
    title: `${data.division.name} · ${t(`metric_${data.metric}`)}`,
    scales: { x: { time: false }, y: { range: [0, 100] } },
    axes: [{ values: (u, ticks) => ticks.map((i) => points[i]?.period ?? "") }, { values: (u, ticks) => ticks.map((v) => `${v}%`) }],
    series: [{ label: t("period"), value: (u, i) => points[i]?.period ?? "" },
      { label: t("rate"), stroke: "#0b5cad", width: 2, value: (u, v) => (v === null ? "—" : `${v.toFixed(1)} %`) },
      { label: t("target"), stroke: "#c62828", dash: [6, 4], width: 1.5, value: (u, v) => (v === null ? "—" : `${v.toFixed(0)} %`) }],
  };
}

/** trendChart(current, {onPeriod}) → {el, draw(), destroy()}; current() → {division, period, stale()};
 * onPeriod(period) when a point or a period of the table is clicked. */
export function trendChart(current, { onPeriod } = {}) {
  const select = metricSelect("trend-metric");
  const chartEl = h("div", { id: "trend-chart", class: "chart" });
  const table = h("div", { class: "table-wrap" });
  let chart = null;
  let draws = 0; // a draw overtaken by a later one (another metric or selection) is dropped

  async function draw() {
    const query = current();
    const mine = ++draws;
    let data;
    try {
      data = await loadTrend(query.division, select.value);
    } catch (err) {
      if (mine === draws && !query.stale()) clear(chartEl, h("p", { class: "error" }, errorText(err) || String(err)));
      return;
    }
    if (mine !== draws || query.stale()) return;
    if (chart) chart.destroy();
    clear(chartEl);
    const width = Math.max(280, Math.min(chartEl.clientWidth || 640, 900));
    const { points } = data;
    chart = new window.uPlot(chartOptions(data, width, query.period, onPeriod), [points.map((_, i) => i),
      points.map((p) => asPercent(p.rate)), points.map((p) => asPercent(p.target))], chartEl);
    chartEl.dataset.periods = points.map((p) => p.period).join(" ");
    chartEl.dataset.selected = query.period;
    clear(table, trendTable(points, query.period, onPeriod));
  }

  select.addEventListener("change", draw);
  const el = h("section", { class: "card", "aria-labelledby": "trend-h" }, h("h2", { id: "trend-h" }, t("trend_title")),
    field(t("metric"), select), onPeriod ? h("p", { class: "small no-print" }, t("trend_click_hint")) : null, chartEl,
    h("details", { class: "no-print" }, h("summary", {}, t("trend_table")), table));
  return { el, draw, destroy: () => { if (chart) chart.destroy(); } };
}
