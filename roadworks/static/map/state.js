// The picture in the URL: ?at=<local wall time>&map=<zoom>/<lat>/<lon>&closure=<id>&lang=en&old=1.

const WALL = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$/;

/** What the address asks for; `at` may be a wall time, a date (noon) or an instant with an offset. */
export function readState(search, toWall) {
  const query = new URLSearchParams(search);
  return {at: parseAt(query.get("at"), toWall), view: parseView(query.get("map")),
          closure: query.get("closure") || null, lang: query.get("lang"), old: query.get("old") === "1"};
}

function parseAt(value, toWall) {
  if (!value) return null;
  if (WALL.test(value)) return value;
  if (/^\d{4}-\d{2}-\d{2}$/.test(value)) return `${value}T12:00`;
  const instant = new Date(value);
  return Number.isNaN(instant.getTime()) ? null : toWall(instant);
}

function parseView(value) {
  const parts = (value || "").split("/").map(Number);
  if (parts.length !== 3 || parts.some(Number.isNaN)) return null;
  const [zoom, lat, lon] = parts;
  return Math.abs(lat) <= 90 && Math.abs(lon) <= 180 && zoom >= 0 && zoom <= 20 ? {zoom, lat, lon} : null;
}

/** Put the state in the address bar: a new history entry when `push` (a choice Back should undo), else
 * in place (a pan, which Back should not replay step by step). */
export function writeState(state, {push = false} = {}) {
  const query = new URLSearchParams(location.search);
  const values = {
    at: state.at,
    map: state.view && `${state.view.zoom}/${state.view.lat.toFixed(5)}/${state.view.lon.toFixed(5)}`,
    closure: state.closure,
    lang: state.lang === "en" ? "en" : null,
    old: state.old ? "1" : null,
  };
  for (const [name, value] of Object.entries(values)) {
    if (value) query.set(name, value); else query.delete(name);
  }
  const search = query.toString();
  const url = search ? `${location.pathname}?${search}` : location.pathname;
  if (push && url !== `${location.pathname}${location.search}`) history.pushState(null, "", url);
  else history.replaceState(null, "", url);
}
