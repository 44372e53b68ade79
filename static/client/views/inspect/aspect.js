// One aspect of the checklist on the form: whether it is inspected, its questions, its photos.
import { pick, t } from "../../i18n.js";
import { field, h } from "../../ui.js";
import { photoPicker } from "./photos.js";

function booleanQuestion(q, name, value) {
  const yes = h("input", { type: "radio", name, value: "true", checked: value === true });
  const no = h("input", { type: "radio", name, value: "false", checked: value === false });
  const el = h("fieldset", { class: "yesno", dataset: { question: q.key } }, h("legend", {}, pick(q)),
    h("label", {}, yes, ` ${t("yes_answer")}`), h("label", {}, no, ` ${t("no_answer")}`));
  return { el, read: () => (yes.checked ? true : no.checked ? false : undefined) };
}

function integerQuestion(q, name, value) {
  const input = h("input", { type: "number", name, inputmode: "numeric", min: q.min, step: 1 });
  if (value !== undefined && value !== null) input.value = value;
  return { el: field(pick(q), input), read: () => (input.value === "" ? undefined : Number.parseInt(input.value, 10)) };
}

function choiceQuestion(q, name, value) {
  const select = h("select", { name }, h("option", { value: "" }, "—"),
    q.choices.map((c) => h("option", { value: c.value, selected: c.value === value }, pick(c))));
  return { el: field(pick(q), select), read: () => select.value || undefined };
}

const QUESTION = { boolean: booleanQuestion, integer: integerQuestion, choice: choiceQuestion };

/** aspectSection(aspect, start, onChange) → {el, key, photos, photoRequired, title(), included(),
 *  answers(), missing(), state()}. `start`: {included, answers, kept: [photo ids], added: [photos]}
 *  from a returned inspection, a draft or an outbox item; none: a fresh form. */
export function aspectSection(aspect, start, onChange = () => {}) {
  const key = aspect.aspect;
  const prior = start?.answers;
  const include = h("input", { type: "checkbox", name: `include-${key}`,
                               checked: start ? Boolean(start.included) : !aspect.optional });
  const questions = aspect.items.map((q) => ({ q, ...QUESTION[q.type](q, `${key}.${q.key}`, prior?.[q.key]) }));
  const photos = photoPicker(aspect, start?.kept || [], start?.added || [], onChange);
  const body = h("div", { class: "questions" }, questions.map((x) => x.el), photos.el);
  const el = h("section", { class: "card aspect", dataset: { aspect: key }, "aria-labelledby": `aspect-${key}` },
    h("h2", { id: `aspect-${key}` }, pick(aspect, "title")),
    h("label", { class: "toggle" }, include, ` ${t("aspect_include")}`), body);
  const sync = () => { body.hidden = !include.checked; };
  include.addEventListener("change", sync);
  sync();
  const answers = () => Object.fromEntries(questions.map((x) => [x.q.key, x.read()]).filter(([, v]) => v !== undefined));
  return {
    el,
    key,
    photos,
    photoRequired: aspect.photo_required !== false,
    title: () => pick(aspect, "title"),
    included: () => include.checked,
    answers,
    /** "aspect: question" of the first unanswered required question, or null. */
    missing: () => {
      const x = questions.find(({ q, read }) => read() === undefined && (q.required ?? q.type === "boolean"));
      return x ? `${pick(aspect, "title")}: ${pick(x.q)}` : null;
    },
    /** What a draft keeps of this aspect (also the half-answered questions). */
    state: () => ({ included: include.checked, answers: answers(), kept: photos.kept(),
                    added: photos.added().map(({ blob, name, info, photo_id }) => ({ blob, name, info, photo_id })) }),
  };
}
