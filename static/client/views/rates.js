// Bureau: rates by level against the targets, a map of villages by status, a trend per metric,
// and exports. Leaflet and uPlot (vendored) are loaded only on this screen.
import { api, download } from "../api.js";
import { errorText, formatDateTime, lang, t } from "../i18n.js";
import { announce, button, clear, h, spinner } from "../ui.js";
import { periodOptions, ratesControls } from "./rates/controls.js";
import { statusMap } from "./rates/map.js";
import { ratesTable } from "./rates/table.js";
import { statusText } from "./rates/shared.js";
import { trendChart } from "./rates/trend.js";

/** The export buttons: the table as shown (division, period, level), in the page's language. */
function exportButtons(current) {
  async function exportAs(fmt) {
    const { division, period, level } = current();
    try {
      const name = await download("/rates/export", { format: fmt, division, period, level, lang: lang() === "en" ? "en" : "zh" },
                                  `rates-${division}-${period}.${fmt}`);
      announce(name, "ok");
    } catch (err) {
      announce(errorText(err), "error");
    }
  }
  return h("div", { class: "actions", id: "exports" },
    ["xlsx", "csv", "geojson"].map((fmt) => button(t(`export_${fmt}`), () => exportAs(fmt), { dataset: { format: fmt } })));
}

/** The villages behind one count of the table (GET /rates level=village, metric, status): each with
 * the inspection its status comes from, which opens the inspection with its photos. */
function cellVillages(current) {
  const el = h("section", { class: "card", id: "cell-villages", hidden: true, "aria-live": "polite" });
  async function show(row, metric, status) {
    const { period, stale } = current();
    el.hidden = false;
    clear(el, spinner());
    let result;
    try {
      result = await api.get("/rates", { division: row.code, period, level: "village", metric, status });
    } catch (err) {
      if (!stale()) clear(el, h("p", { class: "error", role: "alert" }, errorText(err)));
      return;
    }
    if (stale()) return;
    const title = `${row.name} · ${t(`metric_${metric}`)} · ${statusText(status)} ${result.rows.length}`;
    clear(el, h("h2", {}, title),
      h("ul", { class: "plain" }, result.rows.map((v) => {
        const id = v.metrics[metric].inspection_id;
        return h("li", { dataset: { code: v.code } }, h("strong", {}, v.name), " ",
          id ? h("a", { href: `#/inspection/${id}`, class: "inspection-link" }, `${t("inspection_title")} #${id}`)
            : h("span", { class: "muted" }, t("legend_unknown")));
      })));
    el.scrollIntoView({ block: "nearest" });
  }
  return { el, show, hide: () => { el.hidden = true; } };
}

export async function renderRates(main, { me }) {
  const state = { stack: [], division: me.scope.code, period: periodOptions()[0], level: null };
  let generation = 0; // answers for an earlier selection are dropped
  const current = () => {
    const mine = generation;
    return { division: state.division, period: state.period, level: state.level, stale: () => mine !== generation };
  };
  const open = (division) => { state.division = division; state.level = null; refresh(); };
  const drill = (row) => { state.stack.push(state.division); open(row.code); };
  const up = () => { if (state.stack.length) open(state.stack.pop()); };
  const show = (period, level) => { Object.assign(state, { period, level }); refresh(); };

  const controls = ratesControls({ onShow: show, onUp: up });
  const heading = h("h1", {}, t("rates_title"));
  const meta = h("p", { class: "muted", id: "rates-meta" });
  const basis = h("p", { class: "muted small", id: "rates-basis" });
  const tableWrap = h("div", { class: "table-wrap", tabindex: 0, role: "region", "aria-labelledby": "rates-caption", id: "rates-table" });
  const map = statusMap(current);
  const trend = trendChart(current);
  const cells = cellVillages(current);
  main.append(heading, controls.el, meta, basis, tableWrap, cells.el, exportButtons(current), map.el, trend.el);

  async function refresh() {
    generation += 1;
    clear(tableWrap, spinner());
    let result;
    try {
      result = await api.get("/rates", { division: state.division, period: state.period, level: state.level || undefined });
    } catch (err) {
      clear(tableWrap, h("p", { class: "error", role: "alert" }, errorText(err)));
      return;
    }
    state.level = result.level;
    controls.update(result, state.stack.length > 0);
    heading.textContent = `${t("rates_title")} · ${result.division.name}`;
    meta.textContent = `${t("period")}: ${result.period} · ${t("as_of", { time: formatDateTime(result.as_of) })}`;
    const def = result.definition || {};
    basis.textContent = t("basis_line", { kinds: (def.counted_kinds || []).join("、"), days: def.validity_days,
                                          time: formatDateTime(result.as_of) });
    cells.hide();
    clear(tableWrap, ratesTable(result, drill, result.level === "village" ? null : cells.show));
    map.draw();
    trend.draw();
  }

  await refresh();
  return () => { map.destroy(); trend.destroy(); };
}
