// Residents' reports: the agency's queue (new first, grouped), one report with its map, answer and history.
// A resident's words only ever go in as text (el's text/children use textContent), never as markup.
import { api, ApiError } from "./api.js";
import { showErrors, clearErrors } from "./errors.js";
import { t } from "./i18n.js";
import { dayTime, el, field, flash, select } from "./util.js";

const STATES = ["new", "acknowledged", "resolved", "rejected"];
const NEXT = { new: ["acknowledged", "resolved", "rejected"], acknowledged: ["resolved", "rejected"], resolved: [], rejected: [] };
const VERB = { acknowledged: "acknowledge", resolved: "resolve", rejected: "reject" };
const PAGE = 100;
const HISTORY_LABELS = { reply: "reply_short", closure: "closure_title" };

function hashFor(values) {
  const query = new URLSearchParams(Object.entries(values).filter(([, v]) => v));
  return `#reports${query.toString() ? `?${query}` : ""}`;
}

function stateBadge(state) { return el("span", { class: `badge report-${state}`, text: t(`state_${state}`) }); }

function groupBadge(group) {
  if (!group || group.size < 2) return null;
  return el("span", { class: "badge group-many", title: t("group_open", { n: group.open }),
    text: t("group_size", { n: group.size }) });
}

function roadOf(closures, id) {
  const p = closures[id]?.properties;
  if (!p) return id || t("no_closure");
  return `${p.road}${p.from || p.to ? `（${p.from || "…"}—${p.to || "…"}）` : ""}`;
}

async function myClosures() {
  const features = (await api.closures()).data.features;
  return Object.fromEntries(features.map((f) => [f.id, f]));
}

// Each project's IANA zone by id: a report's times are local times in its project's zone.
function zonesOf(projects) { return Object.fromEntries(projects.map((p) => [p.id, p.timezone])); }

// The zone of the report's project (its own, else its closure's); the service's for a project the desk does not
// know (a deleted one, or none: a report routed to the admins).
function zoneOf(report, closures, zones, desk) {
  const project = report.project || closures[report.closure]?.properties.project;
  return zones[project] || desk.config.timezone;
}

export async function showReports(view, desk, params) {
  const wanted = { state: params.get("state") ?? "open", project: params.get("project") || "",
    grouped: params.get("grouped") || "" };
  const known = (await api.projects()).data.projects;
  const projects = known.filter((p) => desk.me.role === "admin" || p.agency === desk.me.agency);
  const zones = zonesOf(known);
  const closures = await myClosures();
  const query = new URLSearchParams({ limit: PAGE });
  if (wanted.state && wanted.state !== "all") query.set("state", wanted.state === "open" ? "new,acknowledged" : wanted.state);
  if (wanted.project) query.set("project", wanted.project);
  if (wanted.grouped) query.set("grouped", "true");
  const state = select([["open", t("state_open")], ["all", t("all")], ...STATES.map((s) => [s, t(`state_${s}`)])],
    wanted.state);
  state.id = "report-state";
  const project = select([["", t("all")], ...projects.map((p) => [p.id, p.name])], wanted.project);
  project.id = "report-project";
  const grouped = el("input", { type: "checkbox", id: "report-grouped", checked: Boolean(wanted.grouped) });
  const go = () => { location.hash = hashFor({ state: state.value, project: project.value, grouped: grouped.checked ? "1" : "" }); };
  for (const control of [state, project, grouped]) control.addEventListener("change", go);
  const tbody = el("tbody");
  const count = el("p", { class: "note", id: "report-total" });
  const more = el("button", { type: "button", hidden: true, text: t("more") });
  let next = null;
  const load = async (url) => {
    const { data } = url ? await call(url) : await api.reports(query.toString());
    // The API pages newest first; the bureau acts on new reports first, so each page shows them on top.
    const rows = data.reports.slice().sort((a, b) => STATES.indexOf(a.state) - STATES.indexOf(b.state));
    tbody.append(...rows.map((r) => row(r, closures, zoneOf(r, closures, zones, desk))));
    if (!tbody.children.length) tbody.append(el("tr", {}, el("td", { colspan: 6, text: t("no_reports") })));
    count.textContent = t("total", { n: data.total });
    next = data.next;
    more.hidden = !next;
  };
  more.addEventListener("click", () => load(next));
  view.append(el("h2", { text: t("reports_title") }),
    el("div", { class: "filters" },
      el("label", { for: state.id, text: t("state") }), state,
      el("label", { for: project.id, text: t("project") }), project,
      el("label", { class: "day" }, grouped, t("grouped"))),
    count,
    el("table", { class: "closures reports" },
      el("thead", {}, el("tr", {}, ...["state", "kind", "text", "closure_title", "group", "received"].map((k) =>
        el("th", { scope: "col", text: t(k) })))),
      tbody),
    more);
  await load();
}

async function call(url) {
  // `next` is an absolute API path the server built; only its query is ours to resend.
  return api.reports(new URL(url, location.origin).search.slice(1));
}

function row(r, closures, tz) {
  return el("tr", { dataset: { reportId: r.id, state: r.state } },
    el("td", {}, stateBadge(r.state)),
    el("td", {}, el("a", { href: `#report/${encodeURIComponent(r.id)}`, text: t(`kind_${r.kind}`) })),
    el("td", { class: "report-text", text: r.text }),
    el("td", { text: r.closure ? roadOf(closures, r.closure) : t("no_closure") }),
    el("td", {}, groupBadge(r.group)),
    el("td", { text: dayTime(r.created_at, tz) }));
}

export async function showReport(view, id, desk) {
  let { data: report, etag } = await api.report(id);
  const closures = await myClosures();
  const zones = zonesOf((await api.projects()).data.projects);
  const closure = report.closure ? closures[report.closure] : null;
  const reply = el("textarea", { rows: 3, maxlength: 2000 });
  reply.value = report.reply || "";
  const form = el("form", { class: "form report-answer", novalidate: true },
    el("ul", { class: "form-errors", tabindex: "-1" }), field(t("reply"), reply, "reply"));
  const buttons = el("div", { class: "buttons" });
  form.append(buttons);
  const history = el("section", { class: "card", "aria-labelledby": "report-history-h" });
  const facts = el("dl", { class: "report-facts" });
  const head = el("h2");

  const draw = () => {
    const tz = zoneOf(report, closures, zones, desk);
    head.replaceChildren(`${t("report_title")}：${t(`kind_${report.kind}`)} `, stateBadge(report.state));
    const contact = report.contact_erased ? t("contact_erased") : report.contact || t("no_contact");
    facts.replaceChildren(...[
      [t("kind"), t(`kind_${report.kind}`)], [t("state"), t(`state_${report.state}`)],
      [t("received"), dayTime(report.created_at, tz)], [t("text"), el("p", { class: "report-text-full", text: report.text })],
      [t("contact"), contact],
      [t("closure_title"), report.closure ? el("a", { href: `#closure/${encodeURIComponent(report.closure)}`,
        text: roadOf(closures, report.closure) }) : t("no_closure")],
      [t("group"), report.group.size > 1 ? `${t("group_size", { n: report.group.size })} · ${t("group_open", { n: report.group.open })}`
        : "1"],
    ].flatMap(([k, v]) => [el("dt", { text: k }), el("dd", {}, v)]));
    buttons.replaceChildren(...NEXT[report.state].map((s) => el("button", { type: "button",
      class: s === "resolved" ? "primary" : "", dataset: { state: s }, text: t(VERB[s]), on: { click: () => send({ state: s }) } })),
    el("button", { type: "button", text: t("save_reply"), on: { click: () => send({}) } }),
    el("a", { href: "#reports", text: t("back_queue") }));
    history.replaceChildren(el("h3", { id: "report-history-h", text: t("history") }),
      el("ol", { class: "history-list report-history", reversed: true },
        ...report.history.slice().reverse().map((entry) => historyItem(entry, closures, tz))));
  };

  async function send(change) {
    clearErrors(form);
    const body = { ...change, reply: reply.value.trim() || null };
    try {
      ({ data: report, etag } = await api.answerReport(id, body, etag));
      flash(t("answered"));
      draw();
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      if (error.status === 412) {
        ({ data: report, etag } = await api.report(id));
        draw();
        flash(t("stale_report"), "bad");
      } else {
        showErrors(form, error);
      }
    }
  }

  const mapBox = el("div", { class: "map", id: "report-map", role: "img", "aria-label": t("where") });
  view.append(el("div", { class: "closure-page" },
    el("div", {}, head, el("section", { class: "card" }, facts), form),
    el("div", { class: "side" }, el("section", { class: "card" }, el("h3", { text: t("where") }), mapBox), history)));
  draw();
  showMap(mapBox, desk.config, report, closure);
}

function historyItem(entry, closures, tz) {
  const shown = (key, v) => {
    if (v === null || v === undefined || v === "") return "—";
    if (key === "state") return t(`state_${v}`);
    if (key === "kind") return t(`kind_${v}`);
    if (key === "closure") return roadOf(closures, v);
    if (key === "contact") {
      return v === true ? t("contact_given") : v === false ? t("no_contact") : v === "erased" ? t("contact_erased") : String(v);
    }
    return String(v);
  };
  const changes = Object.entries(entry.changes || {}).map(([key, change]) => el("li", {},
    el("span", { class: "what", text: `${t(HISTORY_LABELS[key] || key)}: ` }),
    Array.isArray(change) && change.length === 2 ? `${shown(key, change[0])} → ${shown(key, change[1])}` : shown(key, change)));
  return el("li", {},
    el("p", {}, el("strong", { text: t(`action_${entry.action}`) }), " · ", el("span", { text: dayTime(entry.at, tz) }),
      ` · ${t("by")} `, el("span", { class: "who-did", text: entry.by })),
    changes.length ? el("ul", {}, ...changes) : null);
}

// The report's point beside its closure's line on the desk's map (Leaflet, the residents' tiles).
function showMap(box, config, report, closure) {
  if (!window.L) return;
  const map = L.map(box, { keyboard: true });
  L.tileLayer(config.tile_url, { attribution: config.tile_attribution, maxZoom: 19 }).addTo(map);
  const layers = [];
  const geometry = closure?.geometry;
  if (geometry) {
    const parts = geometry.type === "MultiLineString" ? geometry.coordinates : [geometry.coordinates];
    layers.push(L.polyline(parts.map((p) => p.map(([lon, lat]) => [lat, lon])), { color: "#c0392b", weight: 5 }));
  }
  const [lon, lat] = report.position.coordinates;
  layers.push(L.circleMarker([lat, lon], { radius: 8, color: "#1b4f72", fillColor: "#f39c12", fillOpacity: 0.9 }));
  const group = L.featureGroup(layers).addTo(map);
  map.fitBounds(group.getBounds(), { maxZoom: 17, padding: [20, 20] });
  window.rwDesk = { map };
}
