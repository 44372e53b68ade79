// The evidence behind a number: the villages behind one count of the rates table, or one village
// clicked on the map. Each status names the inspection it comes from and the day that inspection
// was observed (China time); the link opens the inspection with its answers and photos.
import { api } from "../../api.js";
import { errorText, formatDate, formatDateTime, t } from "../../i18n.js";
import { button, clear, h, spinner } from "../../ui.js";
import { METRICS, statusText } from "./shared.js";

/** The deciding inspection of one village's metric: a link and its observation day, or "none". */
export function decidingInspection(m) {
  if (!m.inspection_id) return h("span", { class: "muted no-inspection" }, t("evidence_none"));
  return h("span", { class: "deciding" },
    h("a", { href: `#/inspection/${m.inspection_id}`, class: "inspection-link" }, t("evidence_inspection", { id: m.inspection_id })),
    m.observed_at
      ? h("time", { datetime: m.observed_at, title: formatDateTime(m.observed_at) }, ` · ${t("evidence_observed", { date: formatDate(m.observed_at) })}`)
      : null);
}

/** met / not met / unknown with its colour class; tap water adds its households. */
function statusOf(metric, m) {
  return h("span", { class: `status village-${m.status}` }, statusText(m.status),
    metric === "tap_water" && m.households != null && m.households_with_tap != null
      ? ` (${t("tap_households_of", { met: m.households_with_tap, total: m.households })})` : null);
}

function notCounted(village) {
  const kind = village.kind ? t(`rates_kind_${village.kind}`) : "";
  return h("span", { class: "status not-counted" }, kind ? t("not_counted_kind", { kind }) : t("not_counted"));
}

/** evidencePanel(current, {id, onDrill}) → {el, showCell(row, metric, status), showVillage(code, name, child), hide()}.
 * current() → {period, stale()}; onDrill(row) opens a child division of the screen (from the map). */
export function evidencePanel(current, { id, onDrill }) {
  const el = h("section", { class: "card evidence", id, hidden: true, "aria-live": "polite" });
  let asked = 0; // a click overtaken by a later one (or by a new selection) writes nothing

  async function load(query) {
    const mine = ++asked;
    const { stale } = current();
    el.hidden = false;
    clear(el, spinner());
    let result;
    try {
      result = await api.get("/rates", query);
    } catch (err) {
      if (mine === asked && !stale()) clear(el, h("p", { class: "error", role: "alert" }, errorText(err)));
      return null;
    }
    return mine === asked && !stale() ? result : null;
  }

  /** The villages behind one count (GET /rates level=village, metric, status). */
  async function showCell(row, metric, status) {
    const { period } = current();
    const result = await load({ division: row.code, period, level: "village", metric, status });
    if (!result) return;
    clear(el, h("h2", {}, `${row.name} · ${t(`metric_${metric}`)} · ${statusText(status)} ${result.rows.length}`),
      h("p", { class: "small" }, t("evidence_cell_note", { period: result.period })),
      h("ul", { class: "plain villages" }, result.rows.map((v) => {
        const m = v.metrics[metric];
        return h("li", { dataset: { code: v.code, status: m.status } }, h("strong", {}, v.name), " ",
          statusOf(metric, m), " ", decidingInspection(m));
      })),
      button(t("close"), hide, { class: "secondary small", id: "evidence-close" }));
    el.scrollIntoView({ block: "nearest" });
  }

  /** One village (GET /rates division=<village>): its four statuses, or 不纳入统计. `child`: the
   * row of the screen's table the village lies in, offered as a drill-down. */
  async function showVillage(code, name, child) {
    const { period } = current();
    const result = await load({ division: code, period });
    if (!result) return;
    const village = result.rows.find((r) => r.code === code);
    if (!village) {
      clear(el, h("p", { class: "error", role: "alert" }, t("evidence_missing", { name })));
      return;
    }
    clear(el, h("h2", {}, `${village.name} · ${result.period}`),
      village.counted
        ? h("ul", { class: "plain village-metrics" }, METRICS.map((metric) => {
          const m = village.metrics[metric];
          return h("li", { dataset: { metric, status: m.status } }, h("strong", {}, t(`metric_${metric}`)), "：",
            statusOf(metric, m), " ", decidingInspection(m));
        }))
        : h("p", { dataset: { status: "not_counted" } }, notCounted(village), " ", h("span", { class: "small" }, t("not_counted_note"))),
      h("div", { class: "actions" },
        child ? button(t("evidence_open_division", { name: child.name }), () => onDrill(child),
                       { class: "secondary small", id: "evidence-division", dataset: { code: child.code } }) : null,
        button(t("close"), hide, { class: "secondary small", id: "evidence-close" })));
    el.scrollIntoView({ block: "nearest" });
  }

  function hide() {
    asked += 1;
    el.hidden = true;
  }

  return { el, showCell, showVillage, hide };
}
