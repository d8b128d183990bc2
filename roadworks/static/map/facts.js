// What a resident asks of a closure, worked out from its properties: what changes next, how it went against plan.

import {addDays, endInstant, isDateOnly, startInstant, wholeDays} from "./time.js";

/** The next change as a sentence key and its instant, e.g. {key: "next.closedUntil", time: "2024-06-05T18:00+08:00"}. */
export function nextChange(properties) {
  const {status, next_change: time} = properties;
  if (status === "active") return time ? {key: "next.closedUntil", time} : {key: "next.closedOpenEnded"};
  if (status === "paused") return time ? {key: "next.pausedUntil", time} : {key: "next.pausedOpenEnded"};
  if (status === "upcoming") return {key: "next.closesAt", time};
  if (status === "completed") {
    const reopened = reopenedAt(properties);
    return reopened ? {key: "next.reopened", time: reopened} : {key: "next.over"};
  }
  return {key: "status.cancelled"};
}

/** When traffic flowed again: a date (actual_end given as a date, or the day after an inclusive end) or an instant. */
export function reopenedAt(properties) {
  if (properties.actual_end) return properties.actual_end;
  const end = plannedEnd(properties.schedule);
  if (!end) return null;
  return isDateOnly(end) ? addDays(end, 1) : end;
}

/** The last planned `end` of the windows; null when one of them runs until further notice. */
export function plannedEnd(schedule) {
  const ends = (schedule?.windows || []).map(w => w.end);
  if (!ends.length || ends.some(end => end == null)) return null;
  return ends.reduce((a, b) => (a > b ? a : b));
}

function plannedStart(schedule) {
  const starts = (schedule?.windows || []).map(w => w.start);
  return starts.length ? starts.reduce((a, b) => (a < b ? a : b)) : null;
}

/** Planned against actual, as sentence keys with a number of days: "reopened 5 days ahead of plan".
 * Only what has happened by `instant`: seen from before the reopening, it is not yet news. */
export function planVersusActual(properties, zone, instant) {
  const out = [];
  const happened = value => value && startInstant(value, zone) <= instant;
  const start = plannedStart(properties.schedule);
  if (happened(properties.actual_start) && start) {
    const days = wholeDays(startInstant(start, zone) - startInstant(properties.actual_start, zone));
    if (days) out.push({key: days > 0 ? "plan.startedEarly" : "plan.startedLate", n: Math.abs(days)});
  }
  const end = plannedEnd(properties.schedule);
  if (happened(properties.actual_end) && end) {
    const days = wholeDays(endInstant(end, zone) - startInstant(properties.actual_end, zone));
    out.push({key: days > 0 ? "plan.ahead" : days < 0 ? "plan.late" : "plan.onTime", n: Math.abs(days)});
  }
  return out;
}

/** The project's pause in force at `instant`, if any: a date range inclusive of its last day. */
export function pauseAt(project, instant, zone) {
  return (project?.pauses || []).find(p =>
    startInstant(p.start, zone) <= instant && (p.end == null || instant < endInstant(p.end, zone))) || null;
}

const OLD_AFTER_MS = 7 * 86400000;

/** Reopened more than a week before `instant`: history, not news, on the map of that instant. */
export function isLongReopened(properties, zone, instant) {
  if (properties.status !== "completed") return false;
  const reopened = reopenedAt(properties);
  return Boolean(reopened) && startInstant(reopened, zone) <= new Date(instant.getTime() - OLD_AFTER_MS);
}

const PARTIAL = new Set(["lanes-closed", "alternating", "restricted"]);

/** How a closure is drawn: its status, except that a road still passable in part is not drawn as shut. */
export function lookOf(properties) {
  return properties.status === "active" && PARTIAL.has(properties.impact) ? "partial" : properties.status;
}

/** Whether a project's pause meets the time the closure could close the road (its windows, cut by when works
 * really began and ended), so it can open this road at all. */
export function pauseMeets(pause, properties, zone) {
  const start = startInstant(pause.start, zone);
  const end = pause.end == null ? null : endInstant(pause.end, zone);
  const began = properties.actual_start ? startInstant(properties.actual_start, zone) : null;
  const over = properties.actual_end ? startInstant(properties.actual_end, zone) : null;
  return (properties.schedule?.windows || []).some(w => {
    const from = startInstant(w.start, zone);
    const until = w.end == null ? over : (over && over < endInstant(w.end, zone) ? over : endInstant(w.end, zone));
    return (until == null || start < until) && (end == null || (began && began > from ? began : from) < end);
  });
}

export const STATUS_ORDER = {active: 0, paused: 1, upcoming: 2, completed: 3, cancelled: 4};
// Drawing order, top first: a closed road over one partly open, over works paused, planned, or over.
export const LOOK_ORDER = {active: 0, partial: 1, paused: 2, upcoming: 3, completed: 4, cancelled: 5};
