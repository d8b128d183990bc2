// Small DOM and date helpers, and the service's now: bureau text always goes in as text, never as markup.
import { lang, t } from "./i18n.js";
// The residents' map's time module: one service clock and one zone arithmetic for both pages.
import { offsetMinutes } from "/map/time.js";

export { learnServiceClock, serviceNow } from "/map/time.js";

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "on") for (const [event, fn] of Object.entries(value)) node.addEventListener(event, fn);
    else if (name === "text") node.textContent = value;
    else if (name === "dataset") Object.assign(node.dataset, value);
    else if (name in node && name !== "list" && typeof value !== "string") node[name] = value;
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

let counter = 0;
export function uid(prefix) { counter += 1; return `${prefix}-${counter}`; }

// A labelled control: <div class="field"><label for>…</label><input id data-path>…<p class=error></div>
export function field(label, control, path, hint) {
  control.id = control.id || uid("f");
  if (path) control.dataset.path = path;
  const error = el("p", { class: "error", id: `${control.id}-error`, role: "alert" });
  control.setAttribute("aria-describedby", error.id);
  return el("div", { class: "field" }, el("label", { for: control.id, text: label }), control,
    hint ? el("small", { text: hint }) : null, error);
}

export function select(options, value) {
  const node = el("select");
  for (const [v, label] of options) node.append(el("option", { value: v, text: label }));
  if (value !== undefined && value !== null) node.value = value;
  return node;
}

export function flash(message, kind = "ok") {
  const box = document.getElementById("flash");
  box.className = kind;
  box.textContent = message;
}

// "2024-05-31T00:00:00+08:00" -> "5月31日" (zh) or "31 May" (en), in the project's zone.
export function day(iso, tz = "Asia/Shanghai") {
  if (!iso) return "";
  const when = new Date(iso);
  return new Intl.DateTimeFormat(lang === "en" ? "en-GB" : "zh-CN", { timeZone: tz, day: "numeric",
    month: lang === "en" ? "short" : "long" }).format(when);
}

export function dayTime(iso, tz = "Asia/Shanghai") {
  if (!iso) return "";
  return new Intl.DateTimeFormat(lang === "en" ? "en-GB" : "zh-CN", { timeZone: tz, year: "numeric",
    month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" }).format(new Date(iso));
}

// The local date (YYYY-MM-DD) of an instant in a zone.
export function localDate(instant, tz = "Asia/Shanghai") {
  return new Intl.DateTimeFormat("en-CA", { timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit" })
    .format(instant);
}

const DAY_MS = 86400000;

// The instant (a Date) of the wall time `clock` ("HH:MM") on the local day `date` ("YYYY-MM-DD") in `tz`, read as
// the service reads one (Python, fold=0): the offset in force before a change that day, if it still holds then;
// else the one after; a wall time a change skipped keeps the offset from before (a 00:00 skipped is 01:00).
export function wallToInstant(date, clock, tz) {
  const [year, month, dayOfMonth] = date.split("-").map(Number);
  const [hour, minute] = clock.split(":").map(Number);
  const asUtc = Date.UTC(year, month - 1, dayOfMonth, hour, minute);
  if (Number.isNaN(asUtc)) return new Date(NaN);  // a cleared date field: no instant, and Intl would throw
  const before = offsetMinutes(asUtc - DAY_MS, tz), after = offsetMinutes(asUtc + DAY_MS, tz);
  const early = asUtc - before * 60000, late = asUtc - after * 60000;
  if (offsetMinutes(early, tz) === before) return new Date(early);
  return new Date(offsetMinutes(late, tz) === after ? late : early);
}

// "closed until 31 May" / "closed from 1 Sep": what changes next, as a resident would say it.
export function nextChangeText(props, tz) {
  const d = day(props.next_change, tz);
  switch (props.status) {
    case "active": return props.next_change ? t("closed_until", { d }) : t("until_notice");
    case "paused": return props.next_change ? t("paused_until", { d }) : t("paused");
    case "upcoming": return props.next_change ? t("closed_from", { d }) : t("upcoming");
    default: return t(props.status);
  }
}

// A value with null members and empty lists left out: what the API stores for "not given".
export function normal(value) {
  if (Array.isArray(value)) return value.map(normal);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== null && !(Array.isArray(v) && !v.length))
      .sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [k, normal(v)]));
  }
  return value;
}
