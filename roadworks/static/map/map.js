// The residents' map: closures at a chosen instant, a list by road, details, and an address that shares it all.

import {language, setLanguage, t, translatePage} from "./i18n.js";
import {getJSON} from "./api.js";
import {readState, writeState} from "./state.js";
import {formatClock, formatInstant, instantToWall, isoInZone, learnServiceClock, serviceNow,
        wallToInstant} from "./time.js";
import {boundsOf, ClosureLayer, legendControl} from "./layers.js";
import {matchingSearch, renderContacts, renderDetails, renderList, renderPauses, subscribeLink} from "./panel.js";
import {isLongReopened} from "./facts.js";
import {installReports, renderReportCard, renderReportsArea} from "./report.js";

const L = window.L;
const DEFAULTS = {tile_url: "", tile_attribution: "", tile_crs: "wgs84", timezone: "Asia/Shanghai", poll_seconds: 60,
                  home: [73.4, 18.1, 135.1, 53.6]};
const STATUSES = "active,paused,upcoming,completed";
const LIMIT = 1000;
const DAY_MS = 86400000;
const QUICK_DAYS = {tomorrow: 1, week: 7};
const MOTION = !window.matchMedia("(prefers-reduced-motion: reduce)").matches;
// Unreachable tile servers often hang rather than refuse: after this long without one tile, say so.
const TILE_PATIENCE_MS = 6000;
const SEARCH_PAUSE_MS = 300;

const app = {
  config: DEFAULTS, state: null, map: null, layer: null,
  features: [], bounds: new Map(), projects: new Map(), detail: null,
  instant: null, checkedAt: null, truncated: false, refreshes: 0, moveTimer: null, searchTimer: null,
  // What the closures held cover: "all" (the whole answer fitted under the limit), a box, or nothing yet.
  coverage: null,
};
const $ = id => document.getElementById(id);

async function start() {
  app.config = {...DEFAULTS, ...await loadConfig()};
  app.state = readAddress();
  app.state.lang = setLanguage(app.state.lang || "zh-CN");
  makeMap();
  installReports(app.map);
  bindControls();
  translatePage();
  showWhen();
  const shared = Boolean(app.state.view);  // a shared view is kept as it is; otherwise fit the closures
  await refresh({fit: !shared, projects: true});
  if (app.state.closure) await select(app.state.closure, {zoom: !shared, push: false});
  window.addEventListener("popstate", restore);
  setInterval(() => refresh({projects: true}), app.config.poll_seconds * 1000);
}

function readAddress() {
  return readState(location.search, instant => instantToWall(instant, zone()));
}

/** Back and Forward: the picture of that history entry (its time, closure, view and language). */
async function restore() {
  const wanted = readAddress();
  const timeChanged = wanted.at !== app.state.at;
  app.state.at = wanted.at;
  app.state.old = wanted.old;
  $("show-old").checked = wanted.old;
  if ((wanted.lang || "zh-CN") !== language()) {
    app.state.lang = setLanguage(wanted.lang || "zh-CN");
    translatePage();
  }
  showWhen();
  const view = wanted.view;
  if (view && app.ready) app.map.setView([view.lat, view.lon], view.zoom, {animate: false});
  if (wanted.closure) select(wanted.closure, {zoom: false, push: false});
  else closeDetails({push: false});
  if (timeChanged) await refresh();
}

async function loadConfig() {
  try {
    const sent = Date.now();
    const config = (await getJSON("config.json")).data;
    learnServiceClock(config.now, sent, Date.now());
    return config;
  } catch {
    return {};  // the map still works without a base map
  }
}

function zone() {
  return app.config.timezone;
}

function zoneOf(item) {
  const project = item.properties ? app.projects.get(item.properties.project) : item;
  return project?.timezone || zone();
}

// ---------------------------------------------------------------- the map

function makeMap() {
  const map = L.map("map", {zoomAnimation: MOTION, fadeAnimation: MOTION, markerZoomAnimation: MOTION});
  const view = app.state.view;
  // Without a shared view the map waits for the closures and opens on them, not on the whole service area.
  if (view) map.setView([view.lat, view.lon], view.zoom);
  map.attributionControl.setPrefix(escapeHtml("Leaflet"));
  app.map = map;
  app.layer = new ClosureLayer(map, (id, options) => select(id, options));
  addBaseMap(map);
  legendControl(!window.matchMedia("(max-width: 759px)").matches).addTo(map);
  // Leaflet ends the first move before it adds the layers waiting for a view, so drawing waits for `load`.
  map.whenReady(() => {
    app.ready = true;
    map.on("moveend", onMoveEnd);
    rememberView();
    render();
  });
  new ResizeObserver(() => map.invalidateSize({animate: MOTION})).observe($("map"));
}

function homeBounds() {
  const [west, south, east, north] = app.config.home || DEFAULTS.home;
  return [[south, west], [north, east]];
}

/** Tiles from the configured server; when they fail, a plain background and a message, closures still drawn.
 *
 * The verdict is read from the tiles on the map after every tile event rather than counted between Leaflet's
 * `loading` and `load`, which bracket batches only loosely: a view change while tiles are in flight adds
 * tiles without a new `loading`, and tiles aborted or pruned report nothing. A tile server that hangs (as
 * blocked ones do) reports nothing at all and `load` never comes, so a timer gives up on it. */
function addBaseMap(map) {
  const {tile_url: url, tile_attribution: attribution} = app.config;
  if (!url) {
    baseMapFailed(true);
    return;
  }
  const tiles = L.tileLayer(url, {maxZoom: 19, attribution: escapeHtml(attribution)});
  let patience = null;
  const judge = () => {
    const box = tiles.getContainer();
    if (box?.querySelector(".leaflet-tile-loaded")) baseMapFailed(false);
    else if (box?.querySelector(".rw-tile-failed")) baseMapFailed(true);
  };
  tiles.on("tileloadstart", () => {
    patience ??= setTimeout(() => {
      patience = null;
      if (!tiles.getContainer()?.querySelector(".leaflet-tile-loaded")) baseMapFailed(true);
    }, TILE_PATIENCE_MS);
  });
  tiles.on("tileerror", event => { event.tile.classList.add("rw-tile-failed"); judge(); });
  tiles.on("tileload", judge);
  tiles.on("load", judge);
  document.body.dataset.basemap = "loading";
  tiles.addTo(map);
}

function baseMapFailed(failed) {
  document.body.dataset.basemap = failed ? "failed" : "shown";
  $("notice-tiles").hidden = !failed;
  $("map").classList.toggle("rw-no-basemap", failed);
  if (app.layer && app.layer.withPlaces !== failed) {
    app.layer.withPlaces = failed;
    render();
  }
}

/** Leaflet's attribution takes HTML; ours is configured text. */
function escapeHtml(text) {
  const holder = document.createElement("span");
  holder.textContent = text || "";
  return holder.innerHTML;
}

function rememberView() {
  const center = app.map.getCenter();
  app.state.view = {zoom: app.map.getZoom(), lat: center.lat, lon: center.lng};
  writeState(app.state);
}

function onMoveEnd() {
  rememberView();
  render();
  if (covered()) return;  // the closures held already cover this view: the next poll refreshes them
  if (!app.moveTimer) busy(1);
  clearTimeout(app.moveTimer);
  app.moveTimer = setTimeout(() => {
    app.moveTimer = null;
    refresh().finally(() => busy(-1));
  }, 250);
}

/** data-busy on the body counts the refreshes under way or due, for anyone (a test) waiting for quiet. */
function busy(change) {
  app.busy = (app.busy || 0) + change;
  document.body.dataset.busy = String(app.busy);
}

function covered() {
  if (app.coverage === "all") return true;
  return Boolean(app.coverage) && app.coverage.contains(app.map.getBounds());
}

function zoomTo(feature) {
  app.map.fitBounds(boundsOf([feature]), {maxZoom: 17, padding: [32, 32], animate: MOTION});
}

// ---------------------------------------------------------------- data

function atParameter() {
  return app.state.at ? isoInZone(wallToInstant(app.state.at, zone()), zone()) : null;
}

/** The box asked for: the view and half of it again on each side, rounded out so small pans reuse it. */
function boxParameter(padding = 0.5) {
  const box = app.map.getBounds().pad(padding);
  const round = (value, up) => (up ? Math.ceil(value * 1000) : Math.floor(value * 1000)) / 1000;
  return [round(box.getWest(), false), round(box.getSouth(), false), round(box.getEast(), true),
          round(box.getNorth(), true)].map(v => Math.max(-180, Math.min(180, v))).join(",");
}

/** With GCJ-02 tiles the API answers (and reads the box) in GCJ-02, so lines sit on the streets drawn. */
function crsQuery(query) {
  if (app.config.tile_crs === "gcj02") query.set("crs", "gcj02");
  return query;
}

/** The closures asked for: the whole area (when nothing is known yet, or all of it fitted last time), else a box. */
function closuresUrl(fit, wanted) {
  const query = new URLSearchParams({status: STATUSES, limit: String(LIMIT)});
  const whole = fit || wanted || !app.ready || app.coverage === "all";
  if (!whole) query.set("bbox", boxParameter());
  if (atParameter()) query.set("at", atParameter());
  return {url: `/api/v1/closures?${crsQuery(query)}`, box: whole ? "all" : app.map.getBounds().pad(0.5)};
}

function closureUrl(id) {
  const query = new URLSearchParams();
  if (atParameter()) query.set("at", atParameter());
  const search = crsQuery(query).toString();
  return `/api/v1/closures/${encodeURIComponent(id)}${search ? `?${search}` : ""}`;
}

/** Fetch what the picture needs; on failure keep the last picture and say so, until a later poll succeeds.
 * The projects (names, contacts, pauses) change rarely: asked for on load and with each poll, not on moves. */
async function refresh({fit = false, projects = false, whole = false} = {}) {
  busy(1);
  try {
    await fetchAndDraw(fit, projects || !app.projects.size, whole);
  } finally {
    busy(-1);
  }
}

async function fetchAndDraw(fit, withProjects, whole) {
  const number = ++app.refreshes;
  try {
    const asked = closuresUrl(fit, whole);
    const [closures, projects] = await Promise.all([getJSON(asked.url),
                                                    withProjects ? getJSON("/api/v1/projects") : null]);
    const detail = app.state.closure ? await loadDetail(app.state.closure) : null;
    if (number !== app.refreshes) return;  // a newer refresh (a move, a new time) has overtaken this one
    accept(closures, projects, detail);
    app.coverage = app.truncated ? null : asked.box;
    $("notice-api").hidden = true;
    if (fit) fitToClosures();
  } catch (error) {
    if (number !== app.refreshes) return;
    $("notice-api").hidden = false;
    console.warn("Roadworks map: refresh failed", error);
    if (!app.ready) app.map.fitBounds(homeBounds());
  }
  render();
}

/** The opening view: the closures a resident would look for (old ones left out), else the service area. */
function fitToClosures() {
  const wanted = visibleFeatures();
  const bounds = boundsOf(wanted.length ? wanted : app.features);
  if (bounds.isValid()) app.map.fitBounds(bounds.pad(0.1), {maxZoom: 16, animate: MOTION});
  else if (!app.ready) app.map.fitBounds(homeBounds());
}

function accept(closures, projects, detail) {
  if (projects) app.projects = new Map(projects.data.projects.map(project => [project.id, project]));
  app.features = closures.data.features;
  app.bounds = new Map(app.features.map(feature => [feature.id, boundsOf([feature])]));
  // Without `at` the API answers for its own now and leaves `at` out, so one answer serves every poll.
  app.instant = closures.data.at ? new Date(closures.data.at) : serviceNow();
  app.truncated = closures.data.numberMatched > closures.data.numberReturned;
  app.checkedAt = serviceNow();
  app.detail = detail;
}

async function loadDetail(id) {
  try {
    $("notice-gone").hidden = true;
    return (await getJSON(closureUrl(id))).data;
  } catch (error) {
    if (error.status !== 404) throw error;
    $("notice-gone").hidden = false;
    app.state.closure = null;
    writeState(app.state);
    return null;
  }
}

async function select(id, {zoom = true, push = true} = {}) {
  const changed = app.state.closure !== id;
  app.state.closure = id;
  writeState(app.state, {push: push && changed});
  app.detail = app.features.find(feature => feature.id === id) || app.detail;
  render();
  openSheet(true);  // after the details are in: the sheet's height decides the map's
  focusDetails();
  if (zoom && app.detail?.id === id) zoomTo(app.detail);
  busy(1);
  try {
    const known = app.detail?.id === id;
    app.detail = await loadDetail(id);
    $("notice-api").hidden = true;
    if (zoom && !known && app.detail) zoomTo(app.detail);
  } catch (error) {
    $("notice-api").hidden = false;
  } finally {
    busy(-1);
  }
  render();
  focusDetails();
}

/** Keyboard and screen-reader users land on the card they chose, not on the page's body. */
function focusDetails() {
  const title = $("details-title");
  if (title && !$("details").hidden) title.focus({preventScroll: true});
}

function closeDetails({push = true} = {}) {
  const id = app.state.closure;
  if (!id) return;
  app.state.closure = null;
  app.detail = null;
  writeState(app.state, {push});
  render();
  document.querySelector(`.rw-entry[data-closure-id="${CSS.escape(id)}"]`)?.focus();
}

// ---------------------------------------------------------------- drawing the page

/** The closures drawn and listed: those reopened over a week before the chosen time only when asked for. */
function visibleFeatures() {
  if (app.state.old || !app.instant) return app.features;
  return app.features.filter(f => f.id === app.state.closure || !isLongReopened(f.properties, zoneOf(f), app.instant));
}

function inView(features) {
  const view = app.map.getBounds();
  return features.filter(feature => view.intersects(app.bounds.get(feature.id)));
}

function searchText() {
  return $("search").value.trim();
}

/** While searching, the list holds every match (the map follows them); otherwise what is in view. */
function listed(visible) {
  return searchText() ? matchingSearch(visible, searchText(), projectOf) : inView(visible);
}

function projectOf(feature) {
  return app.projects.get(feature.properties.project);
}

function render() {
  if (!app.ready) return;
  const visible = visibleFeatures();
  const shown = listed(visible);
  const selected = app.state.closure;
  app.layer.draw(visible, selected);
  keepingFocus(() => renderList($("list"), shown, {search: $("search").value, selectedId: selected, zoneOf,
                                                    onChoose: id => select(id)}));
  renderOld(visible.length);
  renderSummary(shown);
  const projects = [...new Set(shown.map(f => f.properties.project))].map(id => app.projects.get(id)).filter(Boolean);
  if (app.instant) renderPauses($("pause-notes"), projects, app.instant, zoneOf);
  renderContacts($("contacts"), projects);
  const area = crsQuery(new URLSearchParams({bbox: boxParameter(0)}));
  $("subscribe-area").replaceChildren(subscribeLink(`/feeds/closures.ics?${area}`, t("subscribeArea")));
  renderUpdated(shown);
  renderReportsArea($("report-area"));
  renderDetailsPanel();
  $("notice-more").hidden = !app.truncated;
  $("notice-more").textContent = t("moreThanShown", {n: LIMIT});
}

/** How many closures reopened long ago are left out, beside the switch that shows them. */
function renderOld(visibleCount) {
  const hidden = app.features.length - visibleCount;
  $("old-count").textContent = hidden > 0 && !app.state.old ? t("oldHidden", {n: hidden}) : "";
}

/** Re-rendering the list must not throw a keyboard user's focus away. */
function keepingFocus(draw) {
  const focused = document.activeElement?.closest?.(".rw-entry")?.dataset.closureId;
  draw();
  if (focused) document.querySelector(`.rw-entry[data-closure-id="${CSS.escape(focused)}"]`)?.focus();
}

function renderSummary(shown) {
  const active = shown.filter(f => f.properties.status === "active").length;
  const parts = [t("inView", {n: shown.length})];
  if (shown.length) parts.push(active ? t("inViewActive", {n: active}) : t("inViewNoneActive"));
  $("summary").textContent = app.instant ? parts.join(" · ") : t("loading");
  $("count").textContent = $("summary").textContent;
  if (!app.state.at && app.instant && document.activeElement !== $("at")) $("at").value = instantToWall(app.instant, zone());
  $("when-text").textContent = app.instant
    ? (app.state.at ? t("showingAt", {time: timeText(app.instant)}) : t("showingNow", {time: timeText(app.instant)}))
    : "";
}

function timeText(instant) {
  return formatInstant(instant, zone(), language(), {weekday: true});
}

function renderUpdated(shown) {
  const stamps = [...shown.map(f => f.properties.updated_at), ...[...app.projects.values()].map(p => p.updated_at)]
    .filter(Boolean).map(value => new Date(value));
  const parts = [];
  if (stamps.length) parts.push(t("updated", {time: formatInstant(new Date(Math.max(...stamps)), zone(), language())}));
  if (app.checkedAt) parts.push(t("checked", {time: formatClock(app.checkedAt, zone(), language())}));
  $("updated").textContent = parts.join(" · ");
}

function renderDetailsPanel() {
  const feature = app.state.closure && app.detail?.id === app.state.closure ? app.detail : null;
  $("details").hidden = !feature;
  $("list-view").hidden = Boolean(feature);
  if (!feature) return;
  const project = app.projects.get(feature.properties.project);
  const road = `/feeds/closures.ics?${new URLSearchParams({road: feature.properties.road})}`;
  // A poll or a move re-renders the card: whoever was reading it keeps their place.
  const reading = $("details-body").contains(document.activeElement);
  const focused = reading ? document.activeElement.id || "details-title" : null;
  renderDetails($("details-body"), feature, project, zoneOf(feature), road, app.instant);
  renderReportCard($("details-body"), feature);
  $("details-title").tabIndex = -1;
  if (focused) ($(focused) || $("details-title")).focus({preventScroll: true});
}

// ---------------------------------------------------------------- controls

function bindControls() {
  $("lang").addEventListener("click", switchLanguage);
  for (const button of document.querySelectorAll("[data-quick]")) {
    button.addEventListener("click", () => pickQuick(button.dataset.quick));
  }
  $("at").addEventListener("change", () => { if ($("at").value) setTime($("at").value); });
  $("search").addEventListener("input", onSearch);
  $("show-old").checked = app.state.old;  // a shared address may ask for them
  $("show-old").addEventListener("change", () => {
    app.state.old = $("show-old").checked;
    writeState(app.state, {push: true});
    render();
  });
  $("skip").addEventListener("click", skipToPanel);
  $("sheet-toggle").addEventListener("click", () => openSheet($("panel").dataset.open !== "true"));
  $("back").addEventListener("click", () => closeDetails());
  document.addEventListener("keydown", event => {
    if (event.key === "Escape" && app.state.closure) closeDetails();
  });
}

/** The list shows the matches at once; the map follows once typing pauses. */
function onSearch() {
  render();
  clearTimeout(app.searchTimer);
  app.searchTimer = setTimeout(followSearch, SEARCH_PAUSE_MS);
}

async function followSearch() {
  if (!searchText()) return;
  // A search reaches past the view: with only a box of closures at hand, ask for the whole area once.
  if (app.coverage !== "all") await refresh({whole: true});
  const matches = matchingSearch(visibleFeatures(), searchText(), projectOf);
  if (matches.length) app.map.fitBounds(boundsOf(matches).pad(0.2), {maxZoom: 17, animate: MOTION});
}

/** The skip link: past the header and the map's many lines, to the details if open, else the list. */
function skipToPanel(event) {
  event.preventDefault();
  openSheet(true);
  if (!$("details").hidden) focusDetails();
  else (document.querySelector("#list .rw-entry") || $("search")).focus();
}

function switchLanguage() {
  app.state.lang = setLanguage(language() === "en" ? "zh-CN" : "en");
  translatePage();
  writeState(app.state);
  showWhen();
  render();
}

function pickQuick(choice) {
  if (choice === "now") setTime(null);
  else setTime(instantToWall(new Date(serviceNow().getTime() + QUICK_DAYS[choice] * DAY_MS), zone()), choice);
}

function setTime(wall, quick = null) {
  app.state.at = wall;
  writeState(app.state, {push: true});
  showWhen(quick);
  refresh();
}

function showWhen(quick = null) {
  $("at").value = app.state.at || instantToWall(serviceNow(), zone());
  for (const button of document.querySelectorAll("[data-quick]")) {
    const pressed = button.dataset.quick === (app.state.at ? quick : "now");
    button.setAttribute("aria-pressed", String(pressed));
  }
}

/** On a phone the list is a bottom sheet; opening it shrinks the map, which keeps its centre in sight. */
function openSheet(open) {
  $("panel").dataset.open = String(open);
  $("sheet-toggle").setAttribute("aria-expanded", String(open));
  app.map.invalidateSize({animate: MOTION});
}

start();
