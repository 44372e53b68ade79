// The web client: one page, hash routes, one view per screen.
import { request, session, setUnauthorizedHandler } from "./api.js";
import { lang, setLang, t } from "./i18n.js";
import { listOutbox, onOutboxChange, startOutbox, unsentCount, isMine } from "./outbox.js";
import { announce, clear, confirmDialog, h } from "./ui.js";
import { renderLogin } from "./views/login.js";
import { renderInspect } from "./views/inspect.js";
import { renderOutbox } from "./views/outbox.js";
import { renderDue } from "./views/due.js";
import { renderOdk } from "./views/odk.js";
import { renderMine } from "./views/mine.js";
import { renderInspection } from "./views/inspection.js";
import { renderReview } from "./views/review.js";
import { renderRates } from "./views/rates.js";
import { renderUsers } from "./views/admin/users.js";
import { renderAudit } from "./views/admin/audit.js";
import { renderWebhooks } from "./views/admin/webhooks.js";
import { renderTargets } from "./views/admin/targets.js";
import { renderDivisions } from "./views/admin/divisions.js";
import { renderImports } from "./views/admin/imports.js";
import { renderPassword } from "./views/password.js";

const ALL = ["inspector", "reviewer", "bureau", "admin"];
const ABOVE = ["reviewer", "bureau", "admin"];

// route → [view, roles that see it in the navigation]
const ROUTES = {
  inspect: { render: (main, ctx) => renderInspect(main, { ...ctx, mode: "new" }), roles: ["inspector"], nav: "nav_inspect" },
  due: { render: renderDue, roles: ["inspector"], nav: "nav_due" },
  outbox: { render: renderOutbox, roles: ["inspector"], nav: "nav_outbox" },
  mine: { render: renderMine, roles: ["inspector"], nav: "nav_mine" },
  odk: { render: renderOdk, roles: ["inspector"], nav: "nav_odk" },
  edit: { render: (main, ctx) => renderInspect(main, { ...ctx, mode: "edit" }), roles: ["inspector"] },
  fix: { render: (main, ctx) => renderInspect(main, { ...ctx, mode: "fix" }), roles: ["inspector"], title: "fix_title" },
  review: { render: renderReview, roles: ABOVE, nav: "nav_review" },
  rates: { render: renderRates, roles: ["bureau", "admin"], nav: "nav_rates" },
  records: { render: renderMine, roles: ABOVE, nav: "nav_records" },
  inspection: { render: renderInspection, roles: ALL, title: "inspection_title" },
  users: { render: renderUsers, roles: ["admin"], nav: "nav_users" },
  audit: { render: renderAudit, roles: ["admin"], nav: "nav_audit" },
  webhooks: { render: renderWebhooks, roles: ["admin"], nav: "nav_webhooks" },
  targets: { render: renderTargets, roles: ["bureau", "admin"], nav: "nav_targets" },
  divisions: { render: renderDivisions, roles: ["admin"], nav: "nav_divisions" },
  imports: { render: renderImports, roles: ["admin"], nav: "nav_imports" },
  password: { render: renderPassword, roles: ALL, title: "password_title" },
};

function homeFor(me) {
  if (!me) return "login";
  if (me.role === "bureau") return "rates"; // the bureau's first question is its rates
  return Object.keys(ROUTES).find((name) => ROUTES[name].nav && ROUTES[name].roles.includes(me.role)) || "inspect";
}

function parseHash() {
  const [name = "", ...rest] = location.hash.replace(/^#\/?/, "").split("/");
  return { name, params: rest.map(decodeURIComponent) };
}

export function go(name, ...params) {
  const target = `#/${[name, ...params.map(encodeURIComponent)].join("/")}`;
  if (location.hash === target) route();
  else location.hash = target;
}

let cleanup = null;

async function route() {
  const main = document.getElementById("main");
  if (cleanup) { try { cleanup(); } catch (err) { console.error(err); } cleanup = null; }
  const me = session.me;
  let { name, params } = parseHash();
  if (!me || !session.token) name = "login";
  else if (me.must_change_password) name = "password";  // the server refuses everything else meanwhile
  else if (!ROUTES[name] || !ROUTES[name].roles.includes(me.role)) name = homeFor(me);
  renderHeader();
  announce("");
  // each screen renders into its own box: a slow screen left behind writes only into its detached box
  const screen = h("div", { class: "screen" });
  clear(main, screen);
  if (name === "login") {
    document.title = `${t("login_title")} · ${t("app_title")}`;
    renderLogin(screen, { onLoggedIn: () => go(homeFor(session.me)) });
  } else {
    const view = ROUTES[name];
    document.title = `${t(view.nav || view.title || "nav_mine")} · ${t("app_title")}`;
    const done = (await view.render(screen, { params, me, go })) || null;
    if (screen.isConnected) cleanup = done;
    else if (done) done();
  }
  if (!screen.isConnected) return;
  const heading = screen.querySelector("h1, h2");
  if (heading && document.activeElement === document.body) {
    heading.setAttribute("tabindex", "-1");
    heading.focus({ preventScroll: true });
  }
  updateNavCurrent(name);
}

function renderHeader() {
  const header = document.getElementById("header");
  const me = session.me;
  const nav = me && !me.must_change_password ? h("nav", { "aria-label": t("app_title") }, h("ul", {},
    Object.entries(ROUTES).filter(([, r]) => r.nav && r.roles.includes(me.role)).map(([name, r]) =>
      h("li", {}, h("a", { href: `#/${name}`, dataset: { route: name } }, t(r.nav),
        name === "outbox" ? h("span", { class: "count", id: "outbox-count", "aria-live": "polite" }) : null))))) : null;
  clear(header,
    h("div", { class: "bar" },
      h("span", { class: "brand" }, t("app_title")),
      h("span", { id: "net", class: navigator.onLine ? "net on" : "net off", role: "status" },
        navigator.onLine ? t("online") : t("offline")),
      h("button", { type: "button", class: "link", lang: lang() === "en" ? "zh-CN" : "en", id: "lang-switch",
                    "aria-label": `${t("language")}: ${t("switch_lang")}`,
                    onclick: () => { setLang(lang() === "en" ? "zh" : "en"); route(); } }, t("switch_lang")),
      me ? h("span", { class: "who" }, me.display_name || me.username) : null,
      me ? h("button", { type: "button", class: "link", id: "logout", onclick: logout }, t("logout")) : null),
    nav);
  updateOutboxCount();
}

function updateNavCurrent(name) {
  for (const a of document.querySelectorAll("#header nav a")) {
    if (a.dataset.route === name) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

async function updateOutboxCount() {
  const el = document.getElementById("outbox-count");
  if (!el) return;
  const items = await listOutbox();
  const pending = items.filter((i) => isMine(i) && i.state !== "sent").length;
  el.textContent = pending ? ` (${pending})` : "";
}

async function logout() {
  // unsent items stay on the phone for their author and are never sent as someone else's
  const unsent = await unsentCount();
  if (unsent > 0) {
    const me = session.me;
    const ok = await confirmDialog(t("logout_unsent", { n: unsent, user: me?.display_name || me?.username || "" }),
                                   { confirm: t("logout_anyway") });
    if (!ok) return;
  }
  try { await request("DELETE", "/auth/token"); } catch { /* offline or expired: forget it anyway */ }
  session.clear();
  go("login");
}

function updateNetwork() {
  const el = document.getElementById("net");
  if (!el) return;
  el.className = navigator.onLine ? "net on" : "net off";
  el.textContent = navigator.onLine ? t("online") : t("offline");
}

function boot() {
  setLang(lang());
  setUnauthorizedHandler(() => {
    // A revoked or expired token: log in again; the outbox keeps its items meanwhile.
    session.clear();
    go("login");
  });
  window.addEventListener("hashchange", route);
  window.addEventListener("online", updateNetwork);
  window.addEventListener("offline", updateNetwork);
  onOutboxChange(updateOutboxCount);
  startOutbox();
  if ("serviceWorker" in navigator && window.isSecureContext) {
    navigator.serviceWorker.register("/sw.js").catch((err) => console.warn("service worker", err));
  }
  route();
}

boot();
