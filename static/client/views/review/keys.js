// Keyboard shortcuts of the review queue: j/k move, a approves, r rejects, s sends back,
// v (or Enter on an item) opens its photos. Not while a dialog is open or a field has the focus.
const FIELDS = ["INPUT", "TEXTAREA", "SELECT"];

/** queueKeys(queue, {ask, view, busy}) → the keydown listener. */
export function queueKeys(queue, { ask, view, busy }) {
  return (event) => {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || busy()) return;
    if (FIELDS.includes(event.target.tagName)) return;
    if (event.key === "Enter" && !event.target.classList?.contains("review-item")) return;
    const item = queue.current();
    const actions = {
      j: () => queue.move(1),
      k: () => queue.move(-1),
      a: () => item && queue.decide(item, "approve"),
      r: () => item && ask(item, "reject"),
      s: () => item && ask(item, "return"),
      Enter: () => item && view(item, 0),
      v: () => item && view(item, 0),
    };
    const action = actions[event.key];
    if (action) {
      event.preventDefault();
      action();
    }
  };
}
