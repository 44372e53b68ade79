// The rates screen's title block (division, period, level, the 口径, data as of, and — on paper —
// when and by whom it was printed) and its 打印 / PDF buttons. The print view itself is app.css's
// `@media print` section: navigation and controls hidden, the title block, the table, the map and
// the trend kept, on A4 landscape.
import { formatDateTime, t } from "../../i18n.js";
import { button, h } from "../../ui.js";

/** The counted kinds in words (农村、城镇社区…), the codes when a kind has no name. */
function kindsText(kinds) {
  return (kinds || []).map((k) => { const name = t(`rates_kind_${k}`); return name === `rates_kind_${k}` ? k : name; }).join("、");
}

/** titleBlock(me) → {el, update(result), stamp(), destroy()}: stamp() sets "generated at" to now. */
export function titleBlock(me) {
  const heading = h("h1", {}, t("rates_title"));
  const meta = h("p", { class: "muted", id: "rates-meta" });
  const basis = h("p", { class: "muted small", id: "rates-basis" });
  const generated = h("p", { class: "small print-only", id: "rates-generated" });
  const el = h("div", { class: "rates-title", id: "rates-title" }, heading, meta, basis, generated);

  function stamp() {
    generated.textContent = t("generated_at", { time: formatDateTime(new Date().toISOString()), user: me.display_name || me.username });
  }

  function update(result) {
    heading.textContent = `${t("rates_title")} · ${result.division.name}`;
    meta.textContent = `${t("period")}: ${result.period} · ${t("level")}: ${t(`level_${result.level}`)} · `
      + `${t("as_of", { time: formatDateTime(result.as_of) })}`;
    const def = result.definition || {};
    basis.textContent = t("basis_line", { kinds: kindsText(def.counted_kinds), days: def.validity_days,
                                          time: formatDateTime(result.as_of) });
    stamp();
  }

  window.addEventListener("beforeprint", stamp);
  return { el, update, stamp, destroy: () => window.removeEventListener("beforeprint", stamp) };
}

/** 打印 (the browser's print dialog on the print view) and PDF (the server's report, onPdf). */
export function printButtons(onPdf, stamp) {
  return h("div", { class: "actions no-print", id: "print-actions" },
    button(t("print"), () => { stamp(); window.print(); }, { id: "rates-print" }),
    button(t("export_pdf"), onPdf, { id: "rates-pdf", dataset: { format: "pdf" } }));
}
