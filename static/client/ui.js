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
