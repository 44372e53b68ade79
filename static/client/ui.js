// Small DOM helpers: h() builds elements, announce() speaks to the live region.
import { t } from "./i18n.js";

/** h("button", {class: "x", onclick: fn}, "text", child, ...) → element. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key in el && typeof value !== "string") el[key] = value;
    else el.setAttribute(key, value === true ? "" : value);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** Politely announce `text` (screen readers) and show it in the status bar. */
export function announce(text, kind = "info") {
  const bar = document.getElementById("status");
  if (!bar) return;
  bar.textContent = text;
  bar.dataset.kind = kind;
  bar.hidden = !text;
}

export function spinner() {
  return h("p", { class: "muted", role: "status" }, t("loading"));
}

/** A labelled field: label + control, with an id joining them. */
let idCounter = 0;
export function field(label, control, hint) {
  idCounter += 1;
  const id = control.id || `f${idCounter}`;
  control.id = id;
  const hintEl = hint ? h("small", { id: `${id}-hint`, class: "hint" }, hint) : null;
  if (hintEl) control.setAttribute("aria-describedby", hintEl.id);
  return h("div", { class: "field" }, h("label", { for: id }, label), control, hintEl);
}

export function button(label, onclick, attrs = {}) {
  return h("button", { type: "button", onclick, ...attrs }, label);
}

export function badge(text, kind = "") {
  return h("span", { class: `badge ${kind}` }, text);
}

/** Ask before doing something that cannot be undone: a modal dialog → Promise<boolean>.
 *  confirmDialog(text, {confirm: "删除", danger: true, details: [lines]}). */
export function confirmDialog(text, { confirm = t("confirm"), cancel = t("cancel"), danger = false, details = null } = {}) {
  return new Promise((resolve) => {
    const ok = h("button", { type: "submit", class: danger ? "bad-button" : "primary", value: "ok" }, confirm);
    const no = h("button", { type: "button", class: "secondary" }, cancel);
    const dialog = h("dialog", { class: "confirm", "aria-labelledby": "confirm-text", id: "confirm-dialog" },
      h("form", { method: "dialog" },
        h("p", { id: "confirm-text", class: "confirm-text" }, text),
        details?.length ? h("ul", { class: "small confirm-details" }, details.map((d) => h("li", {}, d))) : null,
        h("div", { class: "actions" }, ok, no)));
    let answered = false;
    const finish = (value) => {
      if (answered) return;
      answered = true;
      if (dialog.open) dialog.close();
      dialog.remove();
      resolve(value);
    };
    dialog.querySelector("form").addEventListener("submit", (event) => { event.preventDefault(); finish(true); });
    no.addEventListener("click", () => finish(false));
    dialog.addEventListener("close", () => finish(false));
    document.body.append(dialog);
    dialog.showModal();
    no.focus();
  });
}

/** A <progress> with its percentage written out (the bar alone says nothing to a screen reader). */
export function progressBar(fraction, label) {
  const pct = Math.max(0, Math.min(100, Math.round((fraction || 0) * 100)));
  return h("span", { class: "progress" }, h("progress", { max: 100, value: pct, "aria-label": label }), ` ${pct}%`);
}

/** Whether this device has a keyboard and a fine pointer (keyboard hints are shown only then). */
export function hasKeyboard() {
  return window.matchMedia("(any-hover: hover) and (any-pointer: fine)").matches;
}
