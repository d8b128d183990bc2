// Drawing a closure's line on the residents' Leaflet map: Draw line, a point per click, Finish line.
// Parts make a MultiLineString; points drag and are removed by a click; ends snap to the agency's other closures.
import { t } from "./i18n.js";
import { el, field } from "./util.js";

const SNAP_PIXELS = 14;
const STATUS_COLOURS = { active: "#c0392b", paused: "#d68910", upcoming: "#2471a3", completed: "#7f8c8d",
  cancelled: "#7f8c8d", draft: "#6c3483" };

export function metres(points) {
  let total = 0;
  for (let i = 1; i < points.length; i += 1) {
    const [lon1, lat1] = points[i - 1], [lon2, lat2] = points[i];
    const rad = Math.PI / 180, dLat = (lat2 - lat1) * rad, dLon = (lon2 - lon1) * rad;
    const a = Math.sin(dLat / 2) ** 2 + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(dLon / 2) ** 2;
    total += 2 * 6371008.8 * Math.asin(Math.sqrt(a));
  }
  return total;
}

function partsOf(geometry) {
  if (!geometry) return [];
  return geometry.type === "MultiLineString" ? geometry.coordinates.map((p) => p.slice())
    : [geometry.coordinates.slice()];
}

export function createDrawing(container, config, { geometry, neighbours = [], onChange = () => {} }) {
  const parts = partsOf(geometry);           // finished parts, each [[lon, lat], ...]
  let drawing = null;                        // the part being drawn, or null
  let direction = "both";
  let statusLook = null;
  const mapBox = el("div", { class: "map", id: "desk-map", role: "application", "aria-label": t("line") });
  const draw = el("button", { type: "button", id: "draw-line", text: t("draw_line") });
  const finish = el("button", { type: "button", id: "finish-line", text: t("finish_line"), disabled: true });
  const undo = el("button", { type: "button", text: t("undo_point") });
  const clear = el("button", { type: "button", text: t("clear_line") });
  const length = el("output", { id: "line-length", "aria-live": "polite" });
  const note = el("p", { class: "note", "aria-live": "polite" });
  const coords = el("textarea", { rows: 4, spellcheck: false });
  const coordsField = field(t("coordinates"), coords, "geometry");
  container.append(mapBox, el("p", { class: "help", text: t("drawing_help") }),
    el("div", { class: "buttons" }, draw, finish, undo, clear, el("span", {}, `${t("length")}: `, length)), note,
    coordsField);

  const map = L.map(mapBox, { keyboard: true, doubleClickZoom: false });
  L.tileLayer(config.tile_url, { attribution: config.tile_attribution, maxZoom: 19 }).addTo(map);
  const neighbourLayer = L.layerGroup().addTo(map);
  for (const n of neighbours) {
    for (const part of partsOf(n.geometry)) {
      L.polyline(part.map(([lon, lat]) => [lat, lon]), { color: "#999", weight: 4, opacity: 0.7, interactive: false })
        .addTo(neighbourLayer);
    }
  }
  const ends = neighbours.flatMap((n) => partsOf(n.geometry).flatMap((p) => [p[0], p.at(-1)]));
  const lineLayer = L.layerGroup().addTo(map);
  window.rwDesk = { map };  // for the browser tests: where a lon,lat is on the screen

  function all() { return drawing ? [...parts, drawing] : parts; }

  function snap(latlng) {
    const here = map.latLngToContainerPoint(latlng);
    for (const [lon, lat] of ends) {
      if (map.latLngToContainerPoint([lat, lon]).distanceTo(here) <= SNAP_PIXELS) {
        note.textContent = t("snapped");
        return [lon, lat];
      }
    }
    return [round(latlng.lng), round(latlng.lat)];
  }

  function render() {
    lineLayer.clearLayers();
    const colour = STATUS_COLOURS[statusLook] || "#c0392b";
    for (const part of all()) {
      const line = L.polyline(part.map(([lon, lat]) => [lat, lon]), { color: colour, weight: 6,
        dashArray: part === drawing ? "6 6" : null, className: `desk-line status-${statusLook || "edit"}` });
      line.addTo(lineLayer);
      part.forEach((point, index) => {
        const marker = L.marker([point[1], point[0]], { draggable: true, keyboard: false, title: `${index + 1}`,
          icon: L.divIcon({ className: "vertex", iconSize: [14, 14] }) });
        marker.on("dragend", () => { const p = marker.getLatLng(); part[index] = snap(p); changed(); });
        marker.on("click", () => { part.splice(index, 1); if (!part.length && part !== drawing) parts.splice(parts.indexOf(part), 1); changed(); });
        marker.addTo(lineLayer);
      });
      if (direction !== "both" && part.length > 1) arrow(part, direction === "backward");
    }
    const total = all().reduce((sum, p) => sum + metres(p), 0);
    length.textContent = `${Math.round(total)} m${all().length > 1 ? ` · ${all().length} ${t("parts")}` : ""}`;
    finish.disabled = !drawing;
    draw.disabled = Boolean(drawing);
    mapBox.classList.toggle("drawing", Boolean(drawing));
  }

  function arrow(part, backward) {
    const i = Math.floor((part.length - 1) / 2);
    const [a, b] = backward ? [part[i + 1], part[i]] : [part[i], part[i + 1]];
    const pa = map.latLngToLayerPoint([a[1], a[0]]), pb = map.latLngToLayerPoint([b[1], b[0]]);
    const angle = Math.atan2(pb.y - pa.y, pb.x - pa.x) * 180 / Math.PI;
    const icon = L.divIcon({ className: "direction-arrow", html: "", iconSize: [20, 20] });
    const marker = L.marker([(a[1] + b[1]) / 2, (a[0] + b[0]) / 2], { icon, interactive: false, keyboard: false });
    marker.addTo(lineLayer);
    marker.getElement().style.transform += ` rotate(${angle}deg)`;
  }

  function changed() {
    coords.value = all().map((p) => p.map(([lon, lat]) => `${lon},${lat}`).join("\n")).join("\n\n");
    render();
    onChange();
  }

  map.on("click", (event) => {
    if (!drawing) return;
    note.textContent = "";
    drawing.push(snap(event.latlng));
    changed();
  });
  draw.addEventListener("click", () => { drawing = []; note.textContent = ""; render(); mapBox.focus(); });
  finish.addEventListener("click", () => {
    if (drawing && drawing.length >= 2) parts.push(drawing);
    drawing = null;
    changed();
    draw.focus();
  });
  undo.addEventListener("click", () => { const p = drawing || parts.at(-1); if (p) { p.pop(); if (!p.length && p !== drawing) parts.pop(); } changed(); });
  clear.addEventListener("click", () => { parts.length = 0; drawing = drawing ? [] : null; changed(); });
  coords.addEventListener("change", () => {
    // Typed as lon,lat; a pair that only fits the service area swapped is turned round and said so.
    const typed = coords.value.split(/\n\s*\n/).map((block) => block.split("\n").map((line) => line.split(/[,\s]+/)
      .filter(Boolean).map(Number)).filter((pair) => pair.length === 2 && pair.every(Number.isFinite)))
      .filter((part) => part.length);
    parts.length = 0;
    drawing = null;
    parts.push(...typed.map((part) => part.map(([a, b]) => (swapped(a, b, config.home) ? [b, a] : [a, b]))));
    changed();
  });

  const fit = () => {
    const points = all().flat().concat(ends);
    if (points.length) map.fitBounds(L.latLngBounds(points.map(([lon, lat]) => [lat, lon])).pad(0.3), { maxZoom: 17 });
    else if (config.home) map.fitBounds([[config.home[1], config.home[0]], [config.home[3], config.home[2]]]);
    else map.setView([36.6114, 101.797], 15);
  };
  fit();
  changed();
  return {
    map,
    geometry() {
      const done = parts.filter((p) => p.length >= 2);
      const live = drawing && drawing.length >= 2 ? [...done, drawing] : done;
      if (!live.length) return null;
      return live.length === 1 ? { type: "LineString", coordinates: live[0] } : { type: "MultiLineString", coordinates: live };
    },
    setDirection(value) { direction = value; render(); },
    setLook(status) { statusLook = status; render(); },
    refresh() { map.invalidateSize(); fit(); },
  };
}

function round(x) { return Math.round(x * 1e7) / 1e7; }

function swapped(lon, lat, home) {
  if (!home) return false;
  const inside = (x, y) => x >= home[0] && x <= home[2] && y >= home[1] && y <= home[3];
  return !inside(lon, lat) && inside(lat, lon);
}
