// The rates table: one row per division at the chosen level (a button drills down) and the
// division's total; at village level, each village's status per metric.
import { formatDate, formatDateTime, percent, t } from "../../i18n.js";
import { button, h } from "../../ui.js";
import { METRICS, statusText } from "./shared.js";

/** A count that lists the villages behind it (onCell(metric, status)); a plain number without onCell. */
function countButton(n, metric, status, onCell, label) {
  const text = `${label} ${n}`;
  if (!onCell || !n) return h("span", {}, text);
  return button(text, () => onCell(metric, status), { class: "link cell", dataset: { metric, status } });
}

/** Which rate the big number is where two could be read: tap water by household, sewage by village. */
function rateLabel(metric, m) {
  if (m.basis === "households") return h("span", { class: "basis" }, `${t("by_household")} `);
  if (metric === "sewage_treated") return h("span", { class: "basis" }, `${t("by_village")} `);
  return null;
}

function metricCell(m, metric, onCell) {
  const cls = m.on_target === true ? "on" : m.on_target === false ? "off" : "";
  const status = m.on_target === true ? t("on_target") : m.on_target === false ? t("off_target") : "—";
  return h("td", { class: `metric ${cls}` },
    h("div", { class: "rate" }, rateLabel(metric, m), h("strong", {}, percent(m.rate)), " ", h("span", { class: "status" }, status)),
    m.basis === "households"
      ? h("div", { class: "small households" }, `${m.households_met}/${m.households} ${t("households_unit")}`,
        ` · ${t("target")} ${percent(m.target)}`, ` · ${t("gap_households")} ${m.gap} ${t("households_unit")}`)
      : h("div", { class: "small" }, `${t("by_village")} ${m.met}/${m.met + m.not_met + m.unknown}`, ` · ${t("target")} ${percent(m.target)}`,
        ` · ${t("gap")} ${m.gap}`, m.unknown ? ` · ${t("unknown_n", { n: m.unknown })}` : ""),
    m.households && m.basis !== "households" && m.households.known
      ? h("div", { class: "small by-household" },
        `${t("by_household")} ${percent(m.households.rate)} (${m.households.met}/${m.households.known} ${t("households_unit")})`)
      : null,
    onCell && m.basis !== "households" ? h("div", { class: "small cells" },
      countButton(m.not_met, metric, "not_met", onCell, t("legend_not_met")), " · ",
      countButton(m.unknown, metric, "unknown", onCell, t("legend_unknown")), " · ",
      countButton(m.met, metric, "met", onCell, t("legend_met"))) : null);
}

function villageCell(m, counted) {
  if (!counted) return h("td", { class: "metric not-counted" }, t("not_counted"));
  return h("td", { class: `metric village-${m.status}` }, statusText(m.status),
    m.households != null && m.households_with_tap != null
      ? h("span", { class: "small" }, ` ${m.households_with_tap}/${m.households} ${t("households_unit")}`) : null,
    m.inspection_id ? h("a", { class: "small", href: `#/inspection/${m.inspection_id}` }, ` #${m.inspection_id}`) : null,
    m.observed_at ? h("time", { class: "small", datetime: m.observed_at, title: formatDateTime(m.observed_at) },
                      ` ${formatDate(m.observed_at)}`) : null);
}

function divisionRow(row, { total, onDrill, onCell }) {
  return h("tr", { class: total ? "total" : "", dataset: { code: row.code } },
    h("th", { scope: "row" }, total ? row.name : button(row.name, () => onDrill(row), { class: "link", title: t("drill") })),
    h("td", { class: "num" }, row.population),
    METRICS.map((m) => metricCell(row.metrics[m], m, onCell && ((metric, status) => onCell(row, metric, status)))));
}

function villageRow(row) {
  return h("tr", { dataset: { code: row.code } },
    h("th", { scope: "row" }, row.name),
    METRICS.map((m) => villageCell(row.metrics[m], row.counted)));
}

/** The <table> of a GET /rates result; onDrill(row) opens a row's division; onCell(row, metric, status)
 * lists the villages behind one count. */
export function ratesTable(result, onDrill, onCell) {
  const isVillage = result.level === "village";
  const head = h("tr", {}, h("th", { scope: "col" }, t("name")),
    isVillage ? null : h("th", { scope: "col" }, t("population")),
    METRICS.map((m) => h("th", { scope: "col" }, t(`metric_${m}`))));
  const body = isVillage
    ? result.rows.map(villageRow)
    : [...result.rows.map((row) => divisionRow(row, { total: false, onDrill, onCell })),
      divisionRow(result.division, { total: true, onCell })];
  return h("table", { class: "rates" },
    h("caption", { id: "rates-caption" }, `${result.division.name} · ${t(`level_${result.level}`)} · ${result.period}`),
    h("thead", {}, head), h("tbody", {}, body));
}
