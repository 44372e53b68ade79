// Inspector: the outbox — every saved inspection with its state and, when it failed, why.
import { flagText } from "../flags.js";
import { errorText, formatDateTime, t } from "../i18n.js";
import { listOutbox, onOutboxChange, removeItem, retryNow } from "../outbox.js";
import { badge, button, clear, h } from "../ui.js";

const STATE_CLASS = { waiting: "warn", uploading: "info", sent: "ok", failed: "bad" };

export async function renderOutbox(main) {
  const list = h("ol", { class: "outbox", id: "outbox-list" });
  main.append(h("h1", {}, t("outbox_title")), h("p", { class: "muted" }, t("outbox_hint")), list);

  async function refresh() {
    const items = (await listOutbox()).reverse();
    if (!items.length) {
      clear(list, h("li", { class: "muted" }, t("outbox_empty")));
      return;
    }
    clear(list, items.map((item) => h("li", { class: "card outbox-item", dataset: { state: item.state, key: item.key } },
      h("div", { class: "row" },
        h("strong", {}, item.village_name || item.payload?.village),
        badge(t(`state_${item.state}`), STATE_CLASS[item.state])),
      h("div", { class: "muted" },
        `${t(item.kind === "resubmit" ? "kind_resubmit" : "kind_create")} · ${t("observed_at")}: ${formatDateTime(item.payload?.observed_at)}`,
        " · ", t("photos"), `: ${(item.photos || []).length + Object.values(item.keep_photos || {}).flat().length}`),
      item.attempts ? h("div", { class: "muted" }, t("attempts", { n: item.attempts })) : null,
      item.state === "waiting" && item.next_try_at ? h("div", { class: "muted" }, t("next_try", { time: formatDateTime(item.next_try_at) })) : null,
      item.last_error && item.state !== "sent" ? h("p", { class: item.state === "failed" ? "error" : "muted", role: item.state === "failed" ? "alert" : null },
        errorText(item.last_error)) : null,
      item.result ? h("div", {}, `#${item.result.id} · `, t("server_status", { status: t(`status_${item.result.status}`) }),
        item.result.flags?.length ? ` · ${t("flags")}: ${item.result.flags.map(flagText).join("；")}` : "") : null,
      h("div", { class: "actions" },
        item.state !== "sent" ? button(t("send_now"), () => retryNow(item.key)) : null,
        item.state === "sent" || item.state === "failed" ? button(t("remove"), () => removeItem(item.key), { class: "secondary" }) : null))));
  }

  await refresh();
  const off = onOutboxChange(refresh);
  return off;
}
