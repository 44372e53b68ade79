// The administrator's imports: a division CSV, a boundary GeoJSON or a historical inspections CSV.
// Choose a file → the server checks it with the same checks as its flask command and answers a
// preview (counts, every problem of every line, the rows, shapes on a map) → 保存 sends the same
// bytes again with dry_run=false and the preview's sha256, and the server checks them once more.
import { request } from "../../api.js";
import { TILE_LAYERS } from "../../config.js";
import { errorText, formatDateTime, lang, t } from "../../i18n.js";
import { announce, button, clear, field, h, spinner } from "../../ui.js";
import { loadCss, loadScript } from "../rates/vendor.js";

const KINDS = {
  divisions: { accept: ".csv,text/csv", label: "imports_kind_divisions", hint: "imports_hint_divisions" },
  boundaries: { accept: ".geojson,.json,application/geo+json,application/json", label: "imports_kind_boundaries",
                hint: "imports_hint_boundaries" },
  inspections: { accept: ".csv,text/csv", label: "imports_kind_inspections", hint: "imports_hint_inspections" },
};
const CHANGE_COLOUR = { created: "#1a7f37", updated: "#b26a00", unchanged: "#6b7280" };
const STATUS_KEYS = { approved: "imports_status_approved", returned: "imports_status_returned",
                      rejected: "imports_status_rejected", submitted: "imports_status_submitted" };
const SHOWN_ROWS = 200;

function yesNo(value) {
  if (value === true) return t("imports_yes");
  if (value === false) return t("imports_no");
  return "—";
}

/** A legend colour set through the CSSOM (not a style attribute), so it shows under the CSP. */
function swatch(colour) {
  const el = h("span", { class: "swatch" });
  el.style.background = colour;
  return el;
}

function send(kind, file, dryRun, sha256) {
  const form = new FormData();
  form.append("file", file, file.name);
  form.append("dry_run", dryRun ? "true" : "false");
  if (sha256) form.append("preview_sha256", sha256);
  return request("POST", `/admin/imports/${kind}`, { form });
}

function problemsTable(problems) {
  const zhMode = lang() !== "en";
  const where = problems.length && "feature" in problems[0] ? "feature" : "line";
  return h("div", { class: "table-wrap" }, h("table", { class: "rates", id: "import-problems" },
    h("caption", {}, t("imports_problems", { n: problems.length })),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t(`imports_${where}`)), h("th", { scope: "col" }, t("imports_problem")))),
    h("tbody", {}, problems.map((p) => h("tr", { dataset: { line: p[where] } },
      h("td", { class: "num" }, String(p[where])), h("td", {}, zhMode ? (p.message_zh || p.message) : p.message))))));
}

function rowsTable(kind, rows) {
  const change = (r) => h("td", { class: `change-${r.change}` }, t(`imports_change_${r.change}`));
  let head;
  let line;
  if (kind === "inspections") {
    head = ["imports_line", "imports_village", "imports_observed_at", "imports_status", "metric_garbage_stable",
            "metric_sewage_treated", "metric_village_clean", "imports_change"];
    line = (r) => h("tr", { dataset: { line: r.line } }, h("td", { class: "num" }, String(r.line)),
      h("td", {}, r.village_name || "", h("div", { class: "small" }, r.village_code)), h("td", {}, formatDateTime(r.observed_at)),
      h("td", {}, t(STATUS_KEYS[r.status] || r.status)), h("td", {}, yesNo(r.garbage_stable)),
      h("td", {}, yesNo(r.sewage_treated)), h("td", {}, yesNo(r.village_clean)), change(r));
  } else if (kind === "divisions") {
    head = ["imports_line", "imports_code", "imports_name", "imports_level", "imports_change"];
    line = (r) => h("tr", { dataset: { line: r.line } }, h("td", { class: "num" }, String(r.line)), h("td", {}, r.code),
      h("td", {}, r.name), h("td", {}, t(`level_${r.level}`)), change(r));
  } else {
    head = ["imports_code", "imports_name", "imports_change"];
    line = (r) => h("tr", {}, h("td", {}, r.code), h("td", {}, r.name), change(r));
  }
  const more = rows.length > SHOWN_ROWS ? h("p", { class: "small" }, t("imports_more_rows", { n: rows.length - SHOWN_ROWS })) : null;
  return [h("div", { class: "table-wrap" }, h("table", { class: "rates", id: "import-rows" },
    h("thead", {}, h("tr", {}, head.map((key) => h("th", { scope: "col" }, t(key))))),
    h("tbody", {}, rows.slice(0, SHOWN_ROWS).map(line)))), more];
}

/** The preview map: each feature coloured by what the import does to it. */
async function previewMap(container, features) {
  loadCss("/static/vendor/leaflet/leaflet.css");
  await loadScript("/static/vendor/leaflet/leaflet.js");
  const L = window.L;
  const map = L.map(container, { attributionControl: TILE_LAYERS.length > 0, zoomSnap: 0.25 });
  for (const tiles of TILE_LAYERS) L.tileLayer(tiles.url, tiles.options || {}).addTo(map);
  // the villages a history names are outlined first, as context under its points
  const context = L.geoJSON({ type: "FeatureCollection", features: features.features.filter((f) => f.properties.change === "context") },
    { style: () => ({ color: "#4b5563", weight: 1, fill: false, interactive: false }) }).addTo(map);
  const layer = L.geoJSON({ type: "FeatureCollection", features: features.features.filter((f) => f.properties.change !== "context") }, {
    filter: (f) => Boolean(f.geometry),
    style: (f) => ({ color: "#333", weight: 0.8, fillOpacity: f.geometry.type === "Point" ? 0.9 : 0.45,
                     fillColor: CHANGE_COLOUR[f.properties.change] }),
    pointToLayer: (f, latlng) => L.circleMarker(latlng, { radius: 6 }),
    onEachFeature: (f, l) => l.bindTooltip(`${f.properties.name || f.properties.code}: ${t(`imports_change_${f.properties.change}`)}`),
  }).addTo(map);
  const bounds = layer.getBounds().extend(context.getBounds());
  if (bounds.isValid()) map.fitBounds(bounds, { padding: [12, 12], maxZoom: 13 });
  else map.setView([45.3, 131.0], 8);
  setTimeout(() => map.invalidateSize(), 0);
  container.dataset.features = String(layer.getLayers().length);
  return map;
}

export async function renderImports(main) {
  let map = null;
  const state = { preview: null, file: null, kind: "inspections" };
  const error = h("div", { class: "error", role: "alert", id: "import-error", hidden: true });
  const message = h("p", { class: "notice", role: "status", id: "import-message", hidden: true });
  const result = h("div", { id: "import-preview", "aria-live": "polite" });

  const kindSelect = h("select", { name: "import-kind" },
    Object.entries(KINDS).map(([kind, k]) => h("option", { value: kind, selected: kind === state.kind }, t(k.label))));
  const fileInput = h("input", { type: "file", name: "import-file", accept: KINDS[state.kind].accept, required: true });
  const hint = h("p", { class: "small", id: "import-hint" }, t(KINDS[state.kind].hint));
  const previewButton = h("button", { type: "submit", class: "primary", name: "preview" }, t("imports_preview"));
  const form = h("form", { class: "card", id: "import-form" },
    field(t("imports_kind"), kindSelect), field(t("imports_file"), fileInput), hint, previewButton);

  function reset() {
    if (map) { map.remove(); map = null; }
    state.preview = null;
    clear(result);
    error.hidden = true;
    message.hidden = true;
  }

  kindSelect.addEventListener("change", () => {
    state.kind = kindSelect.value;
    fileInput.accept = KINDS[state.kind].accept;
    hint.textContent = t(KINDS[state.kind].hint);
    reset();
  });
  fileInput.addEventListener("change", reset);

  function showError(err) {
    const problems = err.details?.problems;
    clear(error, h("p", {}, problems ? t("imports_nothing_stored", { n: problems.length }) : errorText(err)));
    error.hidden = false;
    if (problems) result.append(problemsTable(problems));
    announce(problems ? t("imports_nothing_stored", { n: problems.length }) : errorText(err), "error");
  }

  async function preview() {
    const file = fileInput.files[0];
    if (!file) return;
    reset();
    state.file = file;
    const kind = state.kind;
    result.append(spinner());
    previewButton.disabled = true;
    let answer;
    try {
      answer = await send(kind, file, true);
    } catch (err) {
      clear(result);
      showError(err);
      return;
    } finally {
      previewButton.disabled = false;
    }
    state.preview = { ...answer, kind };
    const c = answer.counts;
    const mapEl = h("div", { class: "map", id: "import-map", role: "img", "aria-label": t("imports_map") });
    const legend = h("ul", { class: "legend" }, ["created", "updated", "unchanged"].map((change) =>
      h("li", {}, swatch(CHANGE_COLOUR[change]), t(`imports_change_${change}`))));
    const save = h("button", { type: "button", class: "primary", name: "save", id: "import-save" }, t("imports_save"));
    save.addEventListener("click", () => commit(save));
    clear(result,
      h("section", { class: "card", "aria-labelledby": "import-summary-h" },
        h("h2", { id: "import-summary-h" }, t("imports_preview_title", { file: file.name })),
        h("p", { id: "import-counts" }, t(kind === "inspections" ? "imports_counts_inspections" : "imports_counts",
                                         { created: c.created, updated: c.updated, unchanged: c.unchanged })),
        answer.encoding ? h("p", { class: "small" }, t("imports_encoding", { encoding: answer.encoding })) : null,
        answer.ignored_columns.length ? h("p", { class: "small", id: "import-ignored" },
          t("imports_ignored", { columns: answer.ignored_columns.join("、") })) : null,
        h("div", { class: "actions" }, save, button(t("cancel"), () => { reset(); fileInput.value = ""; }, { class: "secondary" }))),
      h("section", { class: "card", "aria-labelledby": "import-map-h" }, h("h2", { id: "import-map-h" }, t("imports_map")),
        mapEl, legend),
      rowsTable(kind, answer.rows));
    announce(t("imports_previewed"), "ok");
    try {
      map = await previewMap(mapEl, answer.features);
    } catch (err) {
      mapEl.replaceWith(h("p", { class: "error" }, errorText(err) || String(err)));
    }
  }

  async function commit(save) {
    const { kind, sha256 } = state.preview;
    save.disabled = true;
    let answer;
    try {
      answer = await send(kind, state.file, false, sha256);
    } catch (err) {
      save.disabled = false;
      reset();
      showError(err);
      return;
    }
    const c = answer.counts;
    reset();
    fileInput.value = "";
    message.textContent = t(kind === "inspections" ? "imports_saved_inspections" : "imports_saved",
                            { created: c.created, updated: c.updated, unchanged: c.unchanged });
    message.hidden = false;
    announce(message.textContent, "ok");
  }

  form.addEventListener("submit", (event) => { event.preventDefault(); preview(); });
  main.append(h("h1", {}, t("nav_imports")), message, form, error, result);
  return () => { if (map) map.remove(); };
}
