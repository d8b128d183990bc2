// Editable lists of spans (windows with labels, pauses with reasons) and weekly hours.
import { lang, t } from "./i18n.js";
import { el, field } from "./util.js";

const DAY_NAMES = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

// kind "window": start, end, label; kind "pause": start, end, reason. `base` is the API path ("schedule.windows").
export function spanList(kind, items, base, onChange) {
  const wrap = el("div", { class: "spans" });
  const list = el("div");
  const labelOf = (i, part) => {
    if (kind === "window") return i === 0 ? t(`window_${part}`) : t(`window_k_${part}`, { n: i + 1 });
    return i === 0 ? t(`pause_${part}`) : `${t(`pause_${part}`)} ${i + 1}`;
  };
  const rows = [];
  const add = (item = {}) => {
    const i = rows.length;
    const start = el("input", { type: "text", inputmode: "numeric", placeholder: "YYYY-MM-DD", value: item.start || "" });
    const end = el("input", { type: "text", inputmode: "numeric", placeholder: "YYYY-MM-DD", value: item.end || "" });
    const note = el("input", { type: "text", value: (kind === "window" ? item.label : item.reason) || "" });
    const noteLabel = kind === "window" ? (i === 0 ? t("window_label") : `${t("window_label")} ${i + 1}`)
      : (i === 0 ? t("pause_reason") : `${t("pause_reason")} ${i + 1}`);
    const remove = el("button", { type: "button", class: "small", text: `${t("remove")}`,
      "aria-label": `${t("remove")} ${labelOf(i, "start")}` });
    const row = el("fieldset", { class: "span-row" },
      el("legend", { text: kind === "window" ? t("window_n", { n: i + 1 }) : `${t("pauses")} ${i + 1}` }),
      field(labelOf(i, "start"), start, `${base}[${i}].start`),
      field(labelOf(i, "end"), end, `${base}[${i}].end`, kind === "window" ? t("blank_hint") : null),
      field(noteLabel, note, `${base}[${i}].${kind === "window" ? "label" : "reason"}`), remove);
    const entry = { row, start, end, note, gone: false };
    remove.addEventListener("click", () => { entry.gone = true; row.remove(); onChange(); });
    for (const input of [start, end, note]) input.addEventListener("change", onChange);
    rows.push(entry);
    list.append(row);
  };
  for (const item of items) add(item);
  if (kind === "window" && !items.length) add();
  const addButton = el("button", { type: "button", text: t(kind === "window" ? "add_window" : "add_pause"),
    on: { click: () => { add(); rows.at(-1).start.focus(); onChange(); } } });
  wrap.append(list, addButton);
  wrap.value = () => rows.filter((r) => !r.gone).map((r) => {
    const out = { start: r.start.value.trim(), end: r.end.value.trim() || null };
    const note = r.note.value.trim();
    if (note) out[kind === "window" ? "label" : "reason"] = note;
    return out;
  }).filter((s) => s.start || s.end);
  return wrap;
}

export function hoursList(items, onChange) {
  const wrap = el("div", { class: "spans" });
  const list = el("div");
  const rows = [];
  const add = (item = { days: ["mon", "tue", "wed", "thu", "fri"], start: "22:00", end: "06:00" }) => {
    const i = rows.length;
    const days = DAY_NAMES.map((d, k) => {
      const box = el("input", { type: "checkbox", id: `hours-${i}-${d}`, checked: item.days.includes(d) });
      return { d, box, label: el("label", { class: "day", for: box.id }, box, t("days")[k]) };
    });
    const start = el("input", { type: "time", value: item.start });
    const end = el("input", { type: "time", value: item.end === "24:00" ? "00:00" : item.end });
    const overnight = el("span", { class: "overnight" });
    const mark = () => { overnight.textContent = end.value && start.value && end.value <= start.value ? `（${t("next_day")}）` : ""; };
    const remove = el("button", { type: "button", class: "small", text: t("remove") });
    const row = el("fieldset", { class: "span-row" }, el("legend", { text: `${t("hours")} ${i + 1}` }),
      el("div", { class: "days", role: "group", "aria-label": t("hours_days"), "data-path": `schedule.hours[${i}].days` },
        ...days.map((x) => x.label)),
      field(t("hours_start"), start, `schedule.hours[${i}].start`),
      el("div", { class: "field" }, el("label", { for: uid(end), text: t("hours_end") }), end, overnight,
        el("p", { class: "error", id: `${end.id}-error` })),
      remove);
    end.dataset.path = `schedule.hours[${i}].end`;
    const entry = { row, days, start, end, gone: false };
    remove.addEventListener("click", () => { entry.gone = true; row.remove(); onChange(); });
    for (const input of [start, end, ...days.map((x) => x.box)]) input.addEventListener("change", () => { mark(); onChange(); });
    mark();
    rows.push(entry);
    list.append(row);
  };
  for (const item of items) add(item);
  wrap.append(list, el("button", { type: "button", text: t("add_hours"), on: { click: () => { add(); onChange(); } } }));
  wrap.value = () => rows.filter((r) => !r.gone).map((r) => ({
    days: r.days.filter((x) => x.box.checked).map((x) => x.d), start: r.start.value,
    end: r.end.value === "00:00" ? "24:00" : r.end.value }));
  return wrap;
}

let n = 0;
function uid(input) { n += 1; input.id = `hours-end-${n}`; return input.id; }
export { lang };
