// What the parts of the rates screen share: the metrics, the colours and words of a village's status.
import { t } from "../../i18n.js";
import { h } from "../../ui.js";

export const METRICS = ["garbage_stable", "sewage_treated", "village_clean", "tap_water"];
export const STATUS_COLOUR = { met: "#1a7f37", not_met: "#c62828", unknown: "#8a8a8a", not_counted: "#ffffff" };

export function statusText(status) {
  return { met: `✓ ${t("legend_met")}`, not_met: `✗ ${t("legend_not_met")}`, unknown: `? ${t("legend_unknown")}`,
           not_counted: `– ${t("not_counted")}` }[status] || status;
}

/** This year and month in China time. */
export function chinaToday() {
  const parts = Object.fromEntries(new Intl.DateTimeFormat("en", { timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit" })
    .formatToParts(new Date()).map((p) => [p.type, p.value]));
  return { year: Number(parts.year), month: Number(parts.month) };
}

/** A <select> of the metrics, named and identified by `name`. */
export function metricSelect(name) {
  return h("select", { name, id: name }, METRICS.map((m) => h("option", { value: m }, t(`metric_${m}`))));
}
