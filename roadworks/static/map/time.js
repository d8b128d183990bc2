// Wall times and instants in a named IANA zone (the project's), with the browser's own Intl; the service's now.

const offsetFormats = new Map();
const DAY_MS = 86400000;
let serviceAheadMs = 0;  // the service's clock minus the browser's: a replay's, or a phone set wrong

/** Keep how far the service's clock is from the browser's, from its `now` answered between `sentMs` and
 * `receivedMs` (browser times): the service read its clock about halfway through. */
export function learnServiceClock(now, sentMs, receivedMs) {
  const instant = Date.parse(now);
  if (!Number.isNaN(instant)) serviceAheadMs = instant - (sentMs + receivedMs) / 2;
}

/** The service's now (its clock, not the browser's), wherever the page means "now". */
export function serviceNow() {
  return new Date(Date.now() + serviceAheadMs);
}

/** Minutes east of UTC in `zone` at the instant `ms`. */
export function offsetMinutes(ms, zone) {
  if (!offsetFormats.has(zone)) {
    offsetFormats.set(zone, new Intl.DateTimeFormat("en-US", {timeZone: zone, timeZoneName: "longOffset"}));
  }
  const name = offsetFormats.get(zone).formatToParts(new Date(ms)).find(p => p.type === "timeZoneName").value;
  const match = /GMT([+-])(\d{2}):(\d{2})/.exec(name);  // plain "GMT" at offset zero
  return match ? (match[1] === "-" ? -1 : 1) * (Number(match[2]) * 60 + Number(match[3])) : 0;
}

/** The instant of the wall time "YYYY-MM-DDTHH:MM" in `zone`. */
export function wallToInstant(wall, zone) {
  const [date, time = "00:00"] = wall.split("T");
  const [year, month, day] = date.split("-").map(Number);
  const [hour, minute] = time.split(":").map(Number);
  const asUtc = Date.UTC(year, month - 1, day, hour, minute);
  // Twice: the offset at the guessed instant may differ from the one at the true instant (DST edges).
  const guess = asUtc - offsetMinutes(asUtc, zone) * 60000;
  return new Date(asUtc - offsetMinutes(guess, zone) * 60000);
}

/** The wall time "YYYY-MM-DDTHH:MM" of an instant in `zone`. */
export function instantToWall(date, zone) {
  return new Date(date.getTime() + offsetMinutes(date.getTime(), zone) * 60000).toISOString().slice(0, 16);
}

/** RFC 3339 with the zone's offset, as the API takes `at`. */
export function isoInZone(date, zone) {
  const offset = offsetMinutes(date.getTime(), zone);
  const hours = String(Math.floor(Math.abs(offset) / 60)).padStart(2, "0");
  const minutes = String(Math.abs(offset) % 60).padStart(2, "0");
  return `${instantToWall(date, zone)}:00${offset < 0 ? "-" : "+"}${hours}:${minutes}`;
}

export function isDateOnly(value) {
  return /^\d{4}-\d{2}-\d{2}$/.test(value);
}

export function addDays(date, days) {
  return new Date(Date.parse(`${date}T00:00:00Z`) + days * DAY_MS).toISOString().slice(0, 10);
}

/** When a schedule `start` (or an actual_* date) begins: a date means 00:00 local. */
export function startInstant(value, zone) {
  return isDateOnly(value) ? wallToInstant(`${value}T00:00`, zone) : new Date(value);
}

/** When a schedule `end` is over: a date end is inclusive, so it ends at the next day's 00:00. */
export function endInstant(value, zone) {
  return isDateOnly(value) ? wallToInstant(`${addDays(value, 1)}T00:00`, zone) : new Date(value);
}

export function wholeDays(ms) {
  return Math.round(ms / DAY_MS);
}

function locale(lang) {
  return lang === "en" ? "en-GB" : "zh-CN";
}

/** An instant as the project's local date and time, e.g. 2024年5月31日 00:00 or 31 May 2024, 00:00. */
export function formatInstant(value, zone, lang, {weekday = false} = {}) {
  const date = value instanceof Date ? value : new Date(value);
  return new Intl.DateTimeFormat(locale(lang), {
    timeZone: zone, year: "numeric", month: "long", day: "numeric", hour: "2-digit", minute: "2-digit",
    hourCycle: "h23", ...(weekday ? {weekday: "short"} : {}),
  }).format(date);
}

/** A short local time of day, for "checked 12:01". */
export function formatClock(value, zone, lang) {
  return new Intl.DateTimeFormat(locale(lang), {timeZone: zone, hour: "2-digit", minute: "2-digit", hourCycle: "h23"})
    .format(value instanceof Date ? value : new Date(value));
}

/** A schedule value: a date as a whole day, a date-time in the project's zone. */
export function formatScheduleValue(value, zone, lang) {
  if (!isDateOnly(value)) return formatInstant(value, zone, lang);
  return new Intl.DateTimeFormat(locale(lang), {timeZone: "UTC", year: "numeric", month: "long", day: "numeric"})
    .format(new Date(`${value}T00:00:00Z`));
}
