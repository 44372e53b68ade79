// Inspector: the outbox — every saved inspection of the logged-in user with its state, the
// progress of the one being sent ("照片 2/4", the share of bytes, the time it has taken), and,
// when it failed, why; "修改" for a refusal the inspector can fix, "删除" asks first. Items other
// users made on this phone are counted, never sent as this user's.
import { session } from "../api.js";
import { flagText } from "../flags.js";
import { errorText, formatDateTime, t } from "../i18n.js";
import { isFixable, isMine, listOutbox, onOutboxChange, onOutboxProgress, progressOf, removeItem, retryNow } from "../outbox.js";
import { announce, badge, button, clear, confirmDialog, h, progressBar } from "../ui.js";

const STATE_CLASS = { waiting: "warn", uploading: "info", sent: "ok", failed: "bad" };

/** The progress of a send, in words: "照片 2/4 · 63% · 已用时 7 秒" or "正在提交巡查…". */
function progressView(progress) {
  if (!progress) return [h("span", {}, t("send_starting"))];
  const elapsed = Math.max(0, Math.round((Date.now() - progress.started_at) / 1000));
  const took = h("span", { class: "elapsed" }, ` · ${t("elapsed", { s: elapsed })}`);
  if (progress.phase === "photos") {
    return [h("span", {}, t("uploading_photo", { i: progress.index, n: progress.count })), " ",
      progressBar(progress.total ? progress.loaded / progress.total : 0, t("uploading_photo", { i: progress.index, n: progress.count })),
      took];
  }
  return [h("span", {}, t("sending_inspection")), took];
}

function itemView(item, { fix }) {
  const progress = h("div", { class: "send-progress", dataset: { key: item.key }, hidden: item.state !== "uploading" },
    item.state === "uploading" ? progressView(progressOf(item.key)) : null);
  const ask = async () => {
    const text = item.state === "sent" ? t("remove_sent_confirm") : t("remove_confirm", { village: item.village_name || "" });
    if (await confirmDialog(text, { confirm: t("remove"), danger: item.state !== "sent" })) {
      await removeItem(item.key);
      announce(t("removed"));
    }
  };
  return h("li", { class: "card outbox-item", dataset: { state: item.state, key: item.key } },
    h("div", { class: "row" },
      h("strong", {}, item.village_name || item.payload?.village),
      badge(t(`state_${item.state}`), STATE_CLASS[item.state])),
    h("div", { class: "muted" },
      `${t(item.kind === "resubmit" ? "kind_resubmit" : "kind_create")} · ${t("observed_at")}: ${formatDateTime(item.payload?.observed_at)}`,
      " · ", t("photos"), `: ${(item.photos || []).length + Object.values(item.keep_photos || {}).flat().length}`,
      item.payload && !item.payload.location ? ` · ${t("without_location")}` : ""),
    progress,
    item.attempts ? h("div", { class: "muted" }, t("attempts", { n: item.attempts })) : null,
    item.state === "waiting" && item.next_try_at ? h("div", { class: "muted" }, t("next_try", { time: formatDateTime(item.next_try_at) })) : null,
    item.last_error && item.state !== "sent" ? h("p", { class: item.state === "failed" ? "error" : "muted", role: item.state === "failed" ? "alert" : null },
      errorText(item.last_error)) : null,
    item.result ? h("div", {}, h("a", { href: `#/inspection/${item.result.id}` }, `#${item.result.id}`), " · ",
      t("server_status", { status: t(`status_${item.result.status}`) }),
      item.result.flags?.length ? ` · ${t("flags")}: ${item.result.flags.map(flagText).join("；")}` : "") : null,
    h("div", { class: "actions" },
      isFixable(item) ? button(t("fix"), () => fix(item), { class: "primary", dataset: { action: "fix" } }) : null,
      item.state !== "sent" ? button(t("send_now"), () => retryNow(item.key)) : null,
      item.state !== "uploading" ? button(t("remove"), ask, { class: "secondary", dataset: { action: "remove" } }) : null));
}

function othersView(others) {
  if (!others.length) return null;
  const names = [...new Set(others.map((i) => i.owner?.display_name || i.owner?.username || "?"))].join("、");
  return h("p", { class: "card notice", id: "others-items", role: "note" },
    t("outbox_others", { n: others.length, users: names }));
}

export async function renderOutbox(main, { go }) {
  const list = h("ol", { class: "outbox", id: "outbox-list" });
  const others = h("div");
  main.append(h("h1", {}, t("outbox_title")), h("p", { class: "muted" }, t("outbox_hint")), others, list);
  const fix = (item) => go("fix", item.key);

  async function refresh() {
    const all = (await listOutbox()).reverse();
    const mine = all.filter((i) => isMine(i, session.me));
    clear(others, othersView(all.filter((i) => i.owner && !isMine(i, session.me) && i.state !== "sent")));
    if (!mine.length) {
      clear(list, h("li", { class: "muted" }, t("outbox_empty")));
      return;
    }
    clear(list, mine.map((item) => itemView(item, { fix })));
  }

  function showProgress(key, progress) {
    const el = list.querySelector(`.send-progress[data-key="${CSS.escape(key)}"]`);
    if (!el) return;
    el.hidden = !progress;
    if (progress) clear(el, progressView(progress));
  }

  await refresh();
  const off = onOutboxChange(refresh);
  const offProgress = onOutboxProgress(showProgress);
  // a send that takes a while stays visibly alive: the time it has taken goes up every second
  const ticker = setInterval(() => {
    for (const el of list.querySelectorAll(".send-progress:not([hidden])")) {
      const progress = progressOf(el.dataset.key);
      if (progress) clear(el, progressView(progress));
    }
  }, 1000);
  return () => { off(); offProgress(); clearInterval(ticker); };
}
