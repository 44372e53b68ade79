// The checklist per aspect: from GET /api/v1/checklist (kept for offline use), else the built-in copy
// of the contract in DESIGN §5.1. Normalised shape:
// [{key, label_zh, label_en, questions: [{key, type: boolean|integer|choice, label_zh, label_en, choices}]}]
import { api } from "./api.js";

const CACHE_KEY = "rie.checklist";

const BUILT_IN = [
  { key: "garbage", label_zh: "生活垃圾收转运", label_en: "Garbage collection and transfer", questions: [
    { key: "collection_points", type: "boolean", label_zh: "设有垃圾收集点", label_en: "Collection points in place" },
    { key: "collected_on_schedule", type: "boolean", label_zh: "按时清运", label_en: "Collected on schedule" },
    { key: "transfer_working", type: "boolean", label_zh: "转运设施正常运行", label_en: "Transfer working" },
    { key: "no_informal_dumping", type: "boolean", label_zh: "无乱堆乱倒", label_en: "No informal dumping" },
  ] },
  { key: "sewage", label_zh: "生活污水治理", label_en: "Domestic sewage", questions: [
    { key: "mode", type: "choice", label_zh: "治理方式", label_en: "Treatment", choices: [
      { value: "town_network", label_zh: "纳入城镇污水管网", label_en: "Connected to the town sewer network" },
      { value: "village_plant", label_zh: "村级污水处理站", label_en: "Village treatment plant" },
      { value: "small_facility", label_zh: "分散式小型处理设施", label_en: "Small decentralised facility" },
      { value: "sanitary_toilets_reuse", label_zh: "卫生厕所改造与资源化利用", label_en: "Sanitary toilets with resource reuse" },
      { value: "none", label_zh: "未治理", label_en: "No treatment" },
    ] },
    { key: "households_covered", type: "integer", required: false, label_zh: "覆盖户数", label_en: "Households covered" },
  ] },
  { key: "cleanliness", label_zh: "村庄清洁", label_en: "Village cleanliness", questions: [
    { key: "no_garbage_piles", type: "boolean", label_zh: "无垃圾堆积", label_en: "No garbage piles" },
    { key: "ponds_ditches_clean", type: "boolean", label_zh: "坑塘沟渠干净", label_en: "Ponds and ditches clean" },
    { key: "manure_handled", type: "boolean", label_zh: "畜禽粪污妥善处理", label_en: "Manure handled" },
    { key: "public_spaces_orderly", type: "boolean", label_zh: "公共空间整洁有序", label_en: "Public spaces orderly" },
  ] },
  { key: "tap_water", label_zh: "自来水入户", label_en: "Tap water in households", optional: true, photo_required: false, questions: [
    { key: "households", type: "integer", label_zh: "总户数", label_en: "Households" },
    { key: "households_with_tap", type: "integer", label_zh: "自来水入户户数", label_en: "Households with tap water" },
  ] },
];

function normaliseType(type) {
  if (["boolean", "bool"].includes(type)) return "boolean";
  if (["integer", "int", "number"].includes(type)) return "integer";
  if (["choice", "enum", "select", "string"].includes(type)) return "choice";
  return type || "boolean";
}

function normaliseChoice(choice) {
  if (typeof choice === "string") return { value: choice, label_zh: choice, label_en: choice };
  return { value: choice.value ?? choice.key, label_zh: choice.label_zh ?? choice.label ?? choice.value,
           label_en: choice.label_en ?? choice.label ?? choice.value };
}

function normaliseQuestion(key, q) {
  return {
    key: q.key ?? key,
    type: normaliseType(q.type),
    label_zh: q.label_zh ?? q.zh ?? q.label ?? q.key ?? key,
    label_en: q.label_en ?? q.en ?? q.label ?? q.key ?? key,
    required: q.required,
    min: q.min ?? q.minimum,
    max_item: q.max_item,
    choices: (q.choices ?? q.options ?? q.enum ?? []).map(normaliseChoice),
  };
}

function asList(value) {
  if (Array.isArray(value)) return value.map((v) => [v.key ?? v.name, v]);
  return Object.entries(value || {});
}

/** Accept the server's shape ({aspects: [...]}, a list, or {aspect: {...}}) and normalise it. */
export function normaliseChecklist(data) {
  const aspects = asList(data && (data.aspects ?? data.items ?? data));
  const list = aspects.map(([key, a]) => ({
    key: a.key ?? a.aspect ?? key,
    label_zh: a.title_zh ?? a.label_zh ?? a.title ?? a.label ?? key,
    label_en: a.title_en ?? a.label_en ?? a.title ?? a.label ?? key,
    metric: a.metric,
    optional: a.optional,
    photo_required: a.photo_required,
    questions: asList(a.questions ?? a.fields ?? a.items).map(([k, q]) => normaliseQuestion(k, q)),
  })).filter((a) => a.key && a.questions.length);
  return list.length ? list : null;
}

export async function loadChecklist() {
  try {
    const data = normaliseChecklist(await api.get("/checklist"));
    if (data) {
      localStorage.setItem(CACHE_KEY, JSON.stringify(data));
      return data;
    }
  } catch { /* offline or not available: the cached or built-in copy */ }
  try {
    const cached = JSON.parse(localStorage.getItem(CACHE_KEY) || "null");
    if (cached) return cached;
  } catch { /* ignore a broken cache */ }
  return BUILT_IN;
}
