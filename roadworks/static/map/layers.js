// Closures on the Leaflet map: SVG lines styled by look (status, and partial closures apart; colour and dashes,
// see map.css), each under a wide
// invisible line that takes taps, clicks and keyboard focus; at city zoom, one count per road instead.

import {t} from "./i18n.js";
import {LOOK_ORDER, lookOf} from "./facts.js";

const L = window.L;
export const CITY_ZOOM = 13;  // below this zoom, lines of one road would pile up: show counts
const HIT_WEIGHT = 28;  // pixels: a finger-sized target around a thin line
const SVG = "http://www.w3.org/2000/svg";
export const LEGEND_LOOKS = ["active", "partial", "paused", "upcoming", "completed"];

/** Leaflet lat/lngs of a LineString or MultiLineString feature. */
export function latLngsOf(feature) {
  const {type, coordinates} = feature.geometry;
  return L.GeoJSON.coordsToLatLngs(coordinates, type === "MultiLineString" ? 1 : 0);
}

export function boundsOf(features) {
  const bounds = L.latLngBounds([]);
  for (const feature of features) bounds.extend(L.polyline(latLngsOf(feature)).getBounds());
  return bounds;
}

/** A short spoken name of a closure: road, from-to and status. */
export function closureLabel(feature) {
  const p = feature.properties;
  const stretch = p.from && p.to ? t("fromTo", {from: p.from, to: p.to}) : (p.from || p.to || "");
  return [p.road, stretch, t(`look.${lookOf(p)}`)].filter(Boolean).join("，");
}

export class ClosureLayer {
  constructor(map, onSelect) {
    this.map = map;
    this.onSelect = onSelect;
    this.group = L.featureGroup().addTo(map);
    this.lines = new Map();
    this.withPlaces = false;
  }

  /** Redraw everything; the few hundred closures of a city view are cheap to rebuild. */
  draw(features, selectedId) {
    this.group.clearLayers();
    this.lines.clear();
    if (this.map.getZoom() < CITY_ZOOM) {
      this.drawCounts(features);
      return;
    }
    // SVG paints in document order: the most pressing last, so a closed road is never hidden under a plan.
    const bottomUp = [...features].sort((a, b) =>
      LOOK_ORDER[lookOf(b.properties)] - LOOK_ORDER[lookOf(a.properties)]);
    for (const feature of bottomUp) this.drawLine(feature);
    if (this.withPlaces) this.drawPlaces(features);
    this.highlight(selectedId);
  }

  /** Without a base map, the cross streets at each end (from, to) say where a line is. */
  drawPlaces(features) {
    const seen = new Set();
    for (const feature of features) {
      const latlngs = latLngsOf(feature).flat(Infinity);
      const ends = [[feature.properties.from, latlngs[0]], [feature.properties.to, latlngs[latlngs.length - 1]]];
      for (const [name, latlng] of ends) {
        const key = `${name}@${latlng.lat.toFixed(4)},${latlng.lng.toFixed(4)}`;
        if (!name || seen.has(key)) continue;
        seen.add(key);
        this.add(L.tooltip({permanent: true, direction: "top", offset: [0, -6], className: "rw-place"})
          .setLatLng(latlng).setContent(document.createTextNode(name)));
      }
    }
  }

  drawLine(feature) {
    const look = lookOf(feature.properties);
    const latlngs = latLngsOf(feature);
    const inForce = look === "active" || look === "partial";
    if (inForce) this.add(L.polyline(latlngs, {className: "rw-casing", interactive: false}));
    const line = this.add(L.polyline(latlngs, {className: `rw-line status-${look}`, interactive: false}));
    const hit = this.add(L.polyline(latlngs, {className: "rw-hit", weight: HIT_WEIGHT, opacity: 0}));
    tag(line.getElement(), feature);
    const target = tag(hit.getElement(), feature);
    target.setAttribute("tabindex", "0");
    target.setAttribute("role", "button");
    target.setAttribute("aria-label", closureLabel(feature));
    target.addEventListener("keydown", event => pressed(event) && this.onSelect(feature.id, {zoom: true}));
    hit.on("click", () => this.onSelect(feature.id, {zoom: false}));
    this.lines.set(feature.id, line);
  }

  drawCounts(features) {
    for (const group of roadGroups(features)) {
      const badge = document.createElement("span");
      badge.textContent = String(group.features.length);
      const icon = L.divIcon({className: `rw-count status-${group.look}`, html: badge, iconSize: [40, 40]});
      const label = t("countMarker", {road: group.road, n: group.features.length});
      const marker = this.add(L.marker(group.bounds.getCenter(), {icon, title: label, keyboard: true}));
      marker.getElement().setAttribute("aria-label", label);
      const zoomIn = () => this.map.fitBounds(group.bounds.pad(0.3), {maxZoom: CITY_ZOOM + 3});
      marker.on("click", zoomIn);
      marker.getElement().addEventListener("keydown", event => pressed(event) && zoomIn());
    }
  }

  add(layer) {
    layer.addTo(this.group);
    return layer;
  }

  /** The chosen line is marked by its width, not raised: raising a plan would hide the closure over it. */
  highlight(id) {
    for (const [lineId, line] of this.lines) line.getElement().classList.toggle("selected", lineId === id);
  }
}

function tag(element, feature) {
  element.dataset.closureId = feature.id;
  element.dataset.status = feature.properties.status;
  element.dataset.look = lookOf(feature.properties);
  return element;
}

function pressed(event) {
  if (event.key !== "Enter" && event.key !== " ") return false;
  event.preventDefault();
  return true;
}

/** Closures still to come or in force, grouped by project and road, with the most pressing status. */
function roadGroups(features) {
  const groups = new Map();
  for (const feature of features) {
    const {project, road, status} = feature.properties;
    if (status === "completed" || status === "cancelled") continue;
    const look = lookOf(feature.properties);
    const key = `${project}\u0000${road}`;
    if (!groups.has(key)) groups.set(key, {road, features: [], look});
    const group = groups.get(key);
    group.features.push(feature);
    if (LOOK_ORDER[look] < LOOK_ORDER[group.look]) group.look = look;
  }
  for (const group of groups.values()) group.bounds = boundsOf(group.features);
  return groups.values();
}

/** The legend as a Leaflet control: a sample of each line style beside its name; folded on a phone. */
export function legendControl(open) {
  const control = L.control({position: "bottomleft"});
  control.onAdd = () => {
    const box = L.DomUtil.create("details", "rw-legend");
    box.open = open;
    const title = L.DomUtil.create("summary", "rw-legend-title", box);
    title.dataset.i18n = "legend";
    const list = L.DomUtil.create("ul", "", box);
    for (const look of LEGEND_LOOKS) {
      const item = L.DomUtil.create("li", "", list);
      item.append(sample(look));
      const name = L.DomUtil.create("span", "", item);
      name.dataset.i18n = `look.${look}`;
    }
    L.DomEvent.disableClickPropagation(box);
    return box;
  };
  return control;
}

function sample(status) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 36 12");
  svg.setAttribute("width", "36");
  svg.setAttribute("height", "12");
  svg.setAttribute("aria-hidden", "true");
  const line = document.createElementNS(SVG, "path");
  line.setAttribute("d", "M3 6H33");
  line.setAttribute("class", `rw-line status-${status}`);
  svg.append(line);
  return svg;
}
