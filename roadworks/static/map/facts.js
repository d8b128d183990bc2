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
function reopenedAt(properties) {
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

export const STATUS_ORDER = {active: 0, paused: 1, upcoming: 2, completed: 3, cancelled: 4};
