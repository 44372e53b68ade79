// Bureau: rates by level against the targets, a map of villages by status, a trend per metric,
// exports and a print view. Every number leads to its evidence: a count of the table and a village
// of the map open the villages' statuses with their deciding inspections; a point of the trend shows
// that period. Leaflet and uPlot (vendored) are loaded only on this screen.
import { api, download } from "../api.js";
import { errorText, lang, t } from "../i18n.js";
import { announce, button, clear, h, spinner } from "../ui.js";
import { periodOptions, ratesControls } from "./rates/controls.js";
import { evidencePanel } from "./rates/evidence.js";
import { statusMap } from "./rates/map.js";
import { printButtons, titleBlock } from "./rates/print.js";
import { ratesTable } from "./rates/table.js";
import { trendChart } from "./rates/trend.js";

/** Download the table as shown (division, period, level) in `fmt`, in the page's language. */
async function exportAs(current, fmt) {
  const { division, period, level } = current();
  try {
    const name = await download("/rates/export", { format: fmt, division, period, level, lang: lang() === "en" ? "en" : "zh" },
                                `rates-${division}-${period}.${fmt}`);
    announce(name, "ok");
  } catch (err) {
    announce(errorText(err), "error");
  }
}

/** The export buttons (the PDF report sits with 打印, see rates/print.js). */
function exportButtons(current) {
  return h("div", { class: "actions no-print", id: "exports" },
    ["xlsx", "csv", "geojson"].map((fmt) => button(t(`export_${fmt}`), () => exportAs(current, fmt), { dataset: { format: fmt } })));
}

export async function renderRates(main, { me }) {
  const state = { stack: [], division: me.scope.code, period: periodOptions()[0], level: null, result: null };
  let generation = 0; // answers for an earlier selection are dropped
  const current = () => {
    const mine = generation;
    return { division: state.division, period: state.period, level: state.level, stale: () => mine !== generation };
  };
  const open = (division) => { state.division = division; state.level = null; refresh(); };
  const drill = (row) => { state.stack.push(state.division); open(row.code); };
  const up = () => { if (state.stack.length) open(state.stack.pop()); };
  const show = (period, level) => { Object.assign(state, { period, level }); refresh(); };

  /** The row of the table (a child division) a village of the map lies in; none at village level. */
  const childOf = (code) => (state.result && state.result.level !== "village"
    ? state.result.rows.find((row) => code.startsWith(row.code)) : null);

  const controls = ratesControls({ onShow: show, onUp: up });
  const title = titleBlock(me);
  const tableWrap = h("div", { class: "table-wrap", tabindex: 0, role: "region", "aria-labelledby": "rates-caption", id: "rates-table" });
  const evidence = evidencePanel(current, { id: "cell-villages" });
  const mapEvidence = evidencePanel(current, { id: "map-village", onDrill: drill });
  const map = statusMap(current, { onVillage: (code, name) => mapEvidence.showVillage(code, name, childOf(code)),
                                   below: mapEvidence.el });
  const trend = trendChart(current, { onPeriod: (period) => show(period, state.level) });
  main.classList.add("rates-screen");
  main.append(title.el, controls.el, printButtons(() => exportAs(current, "pdf"), title.stamp), tableWrap, evidence.el,
              exportButtons(current), map.el, trend.el);

  async function refresh() {
    generation += 1;
    const { stale } = current(); // an answer overtaken by a later selection is dropped
    evidence.hide();
    mapEvidence.hide();
    clear(tableWrap, spinner());
    let result;
    try {
      result = await api.get("/rates", { division: state.division, period: state.period, level: state.level || undefined });
    } catch (err) {
      if (!stale()) clear(tableWrap, h("p", { class: "error", role: "alert" }, errorText(err)));
      return;
    }
    if (stale()) return;
    state.level = result.level;
    state.period = result.period;
    state.result = result;
    controls.update(result, state.stack.length > 0);
    title.update(result);
    clear(tableWrap, ratesTable(result, drill, result.level === "village" ? null : evidence.showCell));
    map.draw();
    trend.draw();
  }

  await refresh();
  return () => { map.destroy(); trend.destroy(); title.destroy(); main.classList.remove("rates-screen"); };
}
