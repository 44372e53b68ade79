// The rates table: one row per division at the chosen level (a button drills down) and the
// division's total; at village level, each village's status per metric.
import { percent, t } from "../../i18n.js";
import { button, h } from "../../ui.js";
import { METRICS, statusText } from "./shared.js";

function metricCell(m) {
  const cls = m.on_target === true ? "on" : m.on_target === false ? "off" : "";
  const status = m.on_target === true ? t("on_target") : m.on_target === false ? t("off_target") : "—";
  return h("td", { class: `metric ${cls}` },
    h("div", { class: "rate" }, h("strong", {}, percent(m.rate)), " ", h("span", { class: "status" }, status)),
    h("div", { class: "small" }, `${m.met}/${m.met + m.not_met + m.unknown}`, ` · ${t("target")} ${percent(m.target)}`,
      ` · ${t("gap")} ${m.gap}`, m.unknown ? ` · ${t("unknown_n", { n: m.unknown })}` : ""));
}

function villageCell(m) {
  return h("td", { class: `metric village-${m.status}` }, statusText(m.status),
    m.inspection_id ? h("a", { class: "small", href: `#/inspection/${m.inspection_id}` }, ` #${m.inspection_id}`) : null);
}

function divisionRow(row, { total, onDrill }) {
  return h("tr", { class: total ? "total" : "", dataset: { code: row.code } },
    h("th", { scope: "row" }, total ? row.name : button(row.name, () => onDrill(row), { class: "link", title: t("drill") })),
    h("td", { class: "num" }, row.population),
    METRICS.map((m) => metricCell(row.metrics[m])));
}

function villageRow(row) {
  return h("tr", { dataset: { code: row.code } },
    h("th", { scope: "row" }, row.name),
    METRICS.map((m) => villageCell(row.metrics[m])));
}

/** The <table> of a GET /rates result; onDrill(row) opens a row's division. */
export function ratesTable(result, onDrill) {
  const isVillage = result.level === "village";
  const head = h("tr", {}, h("th", { scope: "col" }, t("name")),
    isVillage ? null : h("th", { scope: "col" }, t("population")),
    METRICS.map((m) => h("th", { scope: "col" }, t(`metric_${m}`))));
  const body = isVillage
    ? result.rows.map(villageRow)
    : [...result.rows.map((row) => divisionRow(row, { total: false, onDrill })), divisionRow(result.division, { total: true })];
  return h("table", { class: "rates" },
    h("caption", { id: "rates-caption" }, `${result.division.name} · ${t(`level_${result.level}`)} · ${result.period}`),
    h("thead", {}, head), h("tbody", {}, body));
}
