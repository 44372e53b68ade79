// The rates screen's controls: the period, the level of the rows, "show", and "up" after a drill-down.
import { t } from "../../i18n.js";
import { button, clear, field, h } from "../../ui.js";
import { chinaToday } from "./shared.js";

const LEVELS = ["province", "city", "county", "township", "village"];

/** This year, its quarters and months so far (latest first), and last year. */
export function periodOptions() {
  const { year, month } = chinaToday();
  const out = [String(year)];
  for (let q = Math.ceil(month / 3); q >= 1; q -= 1) out.push(`${year}-Q${q}`);
  for (let m = month; m >= 1; m -= 1) out.push(`${year}-${String(m).padStart(2, "0")}`);
  out.push(String(year - 1));
  return out;
}

/** ratesControls({onShow(period, level), onUp}) → {el, update(result, canGoUp)}. */
export function ratesControls({ onShow, onUp }) {
  const periodSelect = h("select", { name: "period", id: "period" }, periodOptions().map((p) => h("option", { value: p }, p)));
  const levelSelect = h("select", { name: "level", id: "level" });
  const upButton = button(`↑ ${t("up")}`, onUp, { class: "secondary", id: "rates-up" });
  const el = h("form", { class: "controls", "aria-label": t("rates_title") },
    field(t("period"), periodSelect), field(t("level"), levelSelect),
    h("div", { class: "field" }, h("button", { type: "submit", class: "primary" }, t("show"))), upButton);
  el.addEventListener("submit", (event) => {
    event.preventDefault();
    onShow(periodSelect.value, levelSelect.value);
  });

  /** The levels below the division, the period answered, and "up" only below the starting division. */
  function update(result, canGoUp) {
    const below = LEVELS.slice(LEVELS.indexOf(result.division.level) + 1);
    clear(levelSelect, below.map((l) => h("option", { value: l, selected: l === result.level }, t(`level_${l}`))));
    periodSelect.value = result.period;
    upButton.hidden = !canGoUp;
  }

  return { el, update };
}
