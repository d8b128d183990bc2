// The residents' map: closures at a chosen instant, a list by road, details, and an address that shares it all.

import {language, setLanguage, t, translatePage} from "./i18n.js";
import {getJSON} from "./api.js";
import {readState, writeState} from "./state.js";
import {formatClock, formatInstant, instantToWall, isoInZone, wallToInstant} from "./time.js";
import {boundsOf, ClosureLayer, legendControl} from "./layers.js";
import {renderContacts, renderDetails, renderList, renderPauses, subscribeLink} from "./panel.js";
import {installReports, renderReportCard, renderReportsArea} from "./report.js";

const L = window.L;
const DEFAULTS = {tile_url: "", tile_attribution: "", timezone: "Asia/Shanghai", poll_seconds: 60,
                  home: [73.4, 18.1, 135.1, 53.6]};
const STATUSES = "active,paused,upcoming,completed";
const LIMIT = 1000;
const DAY_MS = 86400000;
const QUICK_DAYS = {tomorrow: 1, week: 7};
const MOTION = !window.matchMedia("(prefers-reduced-motion: reduce)").matches;

const app = {
  config: DEFAULTS, state: null, map: null, layer: null,
  features: [], bounds: new Map(), projects: new Map(), detail: null,
  instant: null, checkedAt: null, truncated: false, refreshes: 0, moveTimer: null,
};
const $ = id => document.getElementById(id);

async function start() {
  app.config = {...DEFAULTS, ...await loadConfig()};
  app.state = readState(location.search, instant => instantToWall(instant, zone()));
  app.state.lang = setLanguage(app.state.lang || "zh-CN");
  makeMap();
  installReports(app.map);
  bindControls();
  translatePage();
  showWhen();
  const shared = Boolean(app.state.view);  // a shared view is kept as it is; otherwise fit the closures
  await refresh({fit: !shared});
  if (app.state.closure) await select(app.state.closure, {zoom: !shared});
  setInterval(() => refresh(), app.config.poll_seconds * 1000);
}

async function loadConfig() {
  try {
    return (await getJSON("config.json")).data;
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
  if (view) map.setView([view.lat, view.lon], view.zoom);
  else map.fitBounds(homeBounds());
  map.attributionControl.setPrefix(escapeHtml("Leaflet"));
  app.map = map;
  app.layer = new ClosureLayer(map, (id, options) => select(id, options));
  addBaseMap(map);
  legendControl(!window.matchMedia("(max-width: 759px)").matches).addTo(map);
  map.on("moveend", onMoveEnd);
  new ResizeObserver(() => map.invalidateSize({animate: MOTION})).observe($("map"));
}

function homeBounds() {
  const [west, south, east, north] = app.config.home || DEFAULTS.home;
  return [[south, west], [north, east]];
}

/** Tiles from the configured server; when they fail, a plain background and a message, closures still drawn. */
function addBaseMap(map) {
  const {tile_url: url, tile_attribution: attribution} = app.config;
  if (!url) {
    baseMapFailed(true);
    return;
  }
  let failures = 0;
  const tiles = L.tileLayer(url, {maxZoom: 19, attribution: escapeHtml(attribution)});
  tiles.on("loading", () => { failures = 0; });
  tiles.on("tileerror", () => { failures += 1; baseMapFailed(true); });
  tiles.on("load", () => baseMapFailed(failures > 0));
  tiles.addTo(map);
}

function baseMapFailed(failed) {
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

function onMoveEnd() {
  const center = app.map.getCenter();
  app.state.view = {zoom: app.map.getZoom(), lat: center.lat, lon: center.lng};
  writeState(app.state);
  render();
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

function closuresUrl(wholeArea) {
  const query = new URLSearchParams({status: STATUSES, limit: String(LIMIT)});
  if (!wholeArea) query.set("bbox", boxParameter());
  if (atParameter()) query.set("at", atParameter());
  return `/api/v1/closures?${query}`;
}

function closureUrl(id) {
  const at = atParameter();
  return `/api/v1/closures/${encodeURIComponent(id)}${at ? `?${new URLSearchParams({at})}` : ""}`;
}

/** Fetch what the picture needs; on failure keep the last picture and say so, until a later poll succeeds. */
async function refresh({fit = false} = {}) {
  busy(1);
  try {
    await fetchAndDraw(fit);
  } finally {
    busy(-1);
  }
}

async function fetchAndDraw(fit) {
  const number = ++app.refreshes;
  try {
    const [closures, projects] = await Promise.all([getJSON(closuresUrl(fit)), getJSON("/api/v1/projects")]);
    const detail = app.state.closure ? await loadDetail(app.state.closure) : null;
    if (number !== app.refreshes) return;  // a newer refresh (a move, a new time) has overtaken this one
    accept(closures, projects, detail);
    $("notice-api").hidden = true;
    if (fit && app.features.length) app.map.fitBounds(boundsOf(app.features).pad(0.1), {maxZoom: 16, animate: MOTION});
  } catch (error) {
    if (number !== app.refreshes) return;
    $("notice-api").hidden = false;
    console.warn("Roadworks map: refresh failed", error);
  }
  render();
}

function accept(closures, projects, detail) {
  app.projects = new Map(projects.data.projects.map(project => [project.id, project]));
  app.features = closures.data.features;
  app.bounds = new Map(app.features.map(feature => [feature.id, boundsOf([feature])]));
  // Without `at` the API answers for its own now and leaves `at` out, so one answer serves every poll.
  app.instant = closures.data.at ? new Date(closures.data.at) : new Date();
  app.truncated = closures.data.numberMatched > closures.data.numberReturned;
  app.checkedAt = new Date();
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

async function select(id, {zoom = true} = {}) {
  app.state.closure = id;
  writeState(app.state);
  app.detail = app.features.find(feature => feature.id === id) || app.detail;
  render();
  openSheet(true);  // after the details are in: the sheet's height decides the map's
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
  $("details-title")?.focus({preventScroll: true});
}

function closeDetails() {
  const id = app.state.closure;
  app.state.closure = null;
  app.detail = null;
  writeState(app.state);
  render();
  document.querySelector(`.rw-entry[data-closure-id="${CSS.escape(id || "")}"]`)?.focus();
}

// ---------------------------------------------------------------- drawing the page

function inView() {
  const view = app.map.getBounds();
  return app.features.filter(feature => view.intersects(app.bounds.get(feature.id)));
}

function render() {
  if (!app.map) return;
  const shown = inView();
  const selected = app.state.closure;
  app.layer.draw(app.features, selected);
  keepingFocus(() => renderList($("list"), shown, {search: $("search").value, selectedId: selected, zoneOf,
                                                    onChoose: id => select(id)}));
  renderSummary(shown);
  const projects = [...new Set(shown.map(f => f.properties.project))].map(id => app.projects.get(id)).filter(Boolean);
  if (app.instant) renderPauses($("pause-notes"), projects, app.instant, zoneOf);
  renderContacts($("contacts"), projects);
  $("subscribe-area").replaceChildren(subscribeLink(`/feeds/closures.ics?bbox=${boxParameter(0)}`, t("subscribeArea")));
  renderUpdated(shown);
  renderReportsArea($("report-area"));
  renderDetailsPanel();
  $("notice-more").hidden = !app.truncated;
  $("notice-more").textContent = t("moreThanShown", {n: LIMIT});
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
  renderDetails($("details-body"), feature, project, zoneOf(feature), road, app.instant);
  renderReportCard($("details-body"), feature);
  $("details-title").tabIndex = -1;
}

// ---------------------------------------------------------------- controls

function bindControls() {
  $("lang").addEventListener("click", switchLanguage);
  for (const button of document.querySelectorAll("[data-quick]")) {
    button.addEventListener("click", () => pickQuick(button.dataset.quick));
  }
  $("at").addEventListener("change", () => { if ($("at").value) setTime($("at").value); });
  $("search").addEventListener("input", () => render());
  $("sheet-toggle").addEventListener("click", () => openSheet($("panel").dataset.open !== "true"));
  $("back").addEventListener("click", closeDetails);
  document.addEventListener("keydown", event => {
    if (event.key === "Escape" && app.state.closure) closeDetails();
  });
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
  else setTime(instantToWall(new Date(Date.now() + QUICK_DAYS[choice] * DAY_MS), zone()), choice);
}

function setTime(wall, quick = null) {
  app.state.at = wall;
  writeState(app.state);
  showWhen(quick);
  refresh();
}

function showWhen(quick = null) {
  $("at").value = app.state.at || instantToWall(new Date(), zone());
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
