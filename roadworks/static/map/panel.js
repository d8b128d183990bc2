// The list of closures by road and a closure's details. Bureau text goes in as textContent, never as markup.

import {t, language} from "./i18n.js";
import {lookOf, nextChange, pauseAt, pauseMeets, planVersusActual, STATUS_ORDER} from "./facts.js";
import {formatInstant, formatScheduleValue, instantToWall, isDateOnly, startInstant} from "./time.js";
import {closureLabel} from "./layers.js";

const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/** A new element with a class and text (text, never HTML). */
export function el(tag, className, text) {
  const element = document.createElement(tag);
  if (className) element.className = className;
  if (text != null) element.textContent = text;
  return element;
}

function when(value, zone) {
  return formatInstant(value, zone, language());
}

/** One sentence about what happens next, as residents' notices put it: "封闭中，2024年5月31日起恢复通行",
 * "2024年9月1日起封闭". Every change is "from" an instant, so one at midnight is simply that day. */
export function nextChangeText(properties, zone) {
  let {key, time} = nextChange(properties);
  if (lookOf(properties) === "partial") key = key.replace("next.closed", "next.partial");
  if (!time) return t(key);
  return t(key, {time: dayOrInstant(time, zone)});
}

function dayOrInstant(time, zone) {
  const wall = isDateOnly(time) ? time : instantToWall(new Date(time), zone);
  const day = isDateOnly(time) || wall.endsWith("T00:00");
  return day ? formatScheduleValue(wall.slice(0, 10), zone, language()) : when(time, zone);
}

/** The closures whose road, cross streets (from, to), description or project (name, description) contain
 * the query, case aside: a resident searches by the names on the map and in the notices. */
export function matchingSearch(features, search, projectOf) {
  const query = search.trim().toLowerCase();
  if (!query) return features;
  return features.filter(feature => {
    const p = feature.properties;
    const project = projectOf(feature);
    return [p.road, p.from, p.to, p.description, project?.name, project?.description]
      .some(text => (text || "").toLowerCase().includes(query));
  });
}

/** Closures grouped by road (roads A-Z as the locale sorts them), most pressing first within a road. */
export function byRoad(features) {
  const roads = new Map();
  for (const feature of features) {
    const road = feature.properties.road || "—";
    if (!roads.has(road)) roads.set(road, []);
    roads.get(road).push(feature);
  }
  for (const list of roads.values()) {
    list.sort((a, b) => STATUS_ORDER[a.properties.status] - STATUS_ORDER[b.properties.status]
      || (a.properties.from || "").localeCompare(b.properties.from || "", "zh-CN"));
  }
  return [...roads].sort(([a], [b]) => a.localeCompare(b, "zh-CN"));
}

/** The list: a heading per road and a real button per closure. */
export function renderList(container, features, {search, selectedId, zoneOf, onChoose}) {
  const groups = byRoad(features);
  if (!groups.length) {
    const message = search.trim() ? t("noMatch", {q: search.trim()}) : t("noneInView");
    container.replaceChildren(el("p", "rw-empty", message));
    return;
  }
  container.replaceChildren(...groups.map(([road, list]) => {
    const section = el("section", "rw-road");
    section.append(el("h3", "rw-road-name", road));
    const items = el("ul", "rw-entries");
    for (const feature of list) items.append(entry(feature, selectedId, zoneOf(feature), onChoose));
    section.append(items);
    return section;
  }));
}

function entry(feature, selectedId, zone, onChoose) {
  const p = feature.properties;
  const look = lookOf(p);
  const button = el("button", `rw-entry status-${look}`);
  button.type = "button";
  button.dataset.closureId = feature.id;
  button.setAttribute("aria-current", String(feature.id === selectedId));
  button.append(el("span", `rw-swatch status-${look}`));
  const text = el("span", "rw-entry-text");
  text.append(el("span", "rw-entry-stretch", stretch(p) || p.road),
              el("span", "rw-entry-status", nextChangeText(p, zone)));  // the sentence names the status
  button.append(text);
  button.setAttribute("aria-label", `${closureLabel(feature)}。${nextChangeText(p, zone)}`);
  button.addEventListener("click", () => onChoose(feature.id));
  const item = el("li");
  item.append(button);
  return item;
}

function stretch(p) {
  return p.from && p.to ? t("fromTo", {from: p.from, to: p.to}) : (p.from || p.to || "");
}

/** Everything about one closure, as a resident needs it. */
export function renderDetails(container, feature, project, zone, subscribeUrl, instant) {
  const p = feature.properties;
  const title = el("h2", "rw-details-road", p.road);
  title.id = "details-title";
  const parts = [title];
  if (stretch(p)) parts.push(el("p", "rw-details-stretch", stretch(p)));
  const look = lookOf(p);
  parts.push(el("p", `rw-badge status-${look}`, look === "partial" ? t(`impact.${p.impact}`) : t(`status.${p.status}`)),
             el("p", "rw-next", nextChangeText(p, zone)));
  for (const fact of planVersusActual(p, zone, instant)) parts.push(el("p", "rw-plan", t(fact.key, {n: fact.n})));
  parts.push(facts(p, project, zone, instant), subscribeLink(subscribeUrl, t("subscribeRoad", {road: p.road})));
  container.replaceChildren(...parts);
}

/** What did happen, as far as `instant`: when works began and when the road reopened. */
function actual(p, zone, instant) {
  const happened = value => value && startInstant(value, zone) <= instant;
  const said = [];
  if (happened(p.actual_start)) said.push(t("actualStart", {time: dayOrInstant(p.actual_start, zone)}));
  if (happened(p.actual_end)) said.push(t("actualEnd", {time: dayOrInstant(p.actual_end, zone)}));
  return said.length ? said.join(t("clauseSeparator")) : null;
}

function facts(p, project, zone, instant) {
  const list = el("dl", "rw-facts");
  const add = (key, value) => {
    if (value == null || value === "" || (Array.isArray(value) && !value.length)) return;
    list.append(el("dt", "", t(key)));
    const dd = el("dd");
    if (value instanceof Node) dd.append(value); else dd.textContent = value;
    list.append(dd);
  };
  add("impact", p.impact && t(`impact.${p.impact}`));
  add("direction", p.direction && t(`direction.${p.direction}`, {from: p.from || "", to: p.to || ""}));
  add("description", p.description);
  add("detour", p.detour);
  add("schedule", periods(p.schedule?.windows || [], w => w.label, zone));
  add("actual", instant && actual(p, zone, instant));
  add("hours", hours(p.schedule?.hours || []));
  // A project's pause outside this closure's windows cannot open this road: it is not this closure's news.
  const projectPauses = (project?.pauses || []).filter(pause => pauseMeets(pause, p, zone));
  const pauses = [...projectPauses, ...(p.schedule?.pauses || [])];
  add("pauses", pauses.length ? periods(pauses, pause => pause.reason, zone) : null);
  add("project", project?.name || p.project);
  add("agency", project?.agency);
  add("contact", project?.contact ? contactLink(project.contact) : null);
  add("lastUpdate", p.updated_at && when(p.updated_at, zone));
  return list;
}

function periods(list, note, zone) {
  if (!list.length) return null;
  const items = el("ul", "rw-periods");
  for (const period of list) {
    const end = period.end ? formatScheduleValue(period.end, zone, language()) : t("untilFurtherNotice");
    const range = t("dateRange", {start: formatScheduleValue(period.start, zone, language()), end});
    const item = el("li", "", range);
    if (note(period)) item.append(el("span", "rw-period-note", note(period)));
    items.append(item);
  }
  return items;
}

function hours(list) {
  if (!list.length) return null;
  const items = el("ul", "rw-periods");
  for (const entry of list) {
    // A session ending at or before its start runs past midnight: its end is on the next day.
    const key = entry.end <= entry.start ? "hoursOvernight" : "hoursRange";
    items.append(el("li", "", t(key, {days: dayNames(entry.days), start: entry.start, end: entry.end})));
  }
  return items;
}

/** Days as notices write them: 每天, 周一至周五, 周六、周日 (runs of three or more days as a range). */
export function dayNames(days) {
  const sorted = [...new Set(days)].sort((a, b) => DAYS.indexOf(a) - DAYS.indexOf(b));
  if (sorted.length === DAYS.length) return t("everyDay");
  const runs = [];
  for (const day of sorted) {
    const run = runs[runs.length - 1];
    if (run && DAYS.indexOf(day) === DAYS.indexOf(run[run.length - 1]) + 1) run.push(day);
    else runs.push([day]);
  }
  return runs.flatMap(run => (run.length >= 3
    ? [t("dayRange", {from: t(`day.${run[0]}`), to: t(`day.${run[run.length - 1]}`)})]
    : run.map(day => t(`day.${day}`)))).join(t("daySeparator"));
}

/** A phone number or e-mail address as a link a phone can act on; anything else as plain text. */
export function contactLink(contact) {
  const email = /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(contact.trim());
  const phone = /^\+?\d[\d\s-]{2,}/.exec(contact.trim());
  if (!email && !phone) return el("span", "", contact);
  const link = el("a", "rw-contact", contact);
  link.href = email ? `mailto:${contact.trim()}` : `tel:${phone[0].replace(/[\s-]/g, "")}`;
  return link;
}

/** A calendar subscription: webcal:, so a phone subscribes (and follows changes) rather than importing once. */
export function subscribeLink(url, label) {
  const link = el("a", "rw-subscribe");
  link.href = new URL(url, location.href).href.replace(/^https?:/, "webcal:");
  link.append(el("span", "rw-subscribe-label", label), el("span", "rw-subscribe-hint", t("subscribeHint")));
  return link;
}

/** Pauses in force at `instant` in the projects of the closures shown: why a road is open again. */
export function renderPauses(container, projects, instant, zoneOf) {
  const notes = [];
  for (const project of projects) {
    const pause = pauseAt(project, instant, zoneOf(project));
    if (!pause) continue;
    const note = el("p", "rw-pause-note");
    const end = pause.end ? formatScheduleValue(pause.end, zoneOf(project), language()) : t("untilFurtherNotice");
    note.append(el("strong", "", project.name),
                el("span", "", t("pauseRange", {range: t("dateRange", {start: formatScheduleValue(pause.start, zoneOf(project), language()), end})})),
                el("span", "", pause.reason || ""));
    notes.push(note);
  }
  container.replaceChildren(...notes);
  container.hidden = !notes.length;
}

/** Whom to ask: the agency and contact of each project with closures in view. */
export function renderContacts(container, projects) {
  container.replaceChildren(...projects.filter(p => p.agency || p.contact).map(project => {
    const line = el("p", "rw-contact-line");
    line.append(el("span", "", `${project.agency || project.name} `));
    if (project.contact) line.append(contactLink(project.contact));
    return line;
  }));
}
