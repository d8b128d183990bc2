// The overview: the agency's projects and closures, status now, next change, drafts, the next 7 days.
import { api } from "./api.js";
import { lang, t } from "./i18n.js";
import { el, nextChangeText, serviceNow, wallToInstant } from "./util.js";

const WEEK_MS = 7 * 24 * 3600 * 1000;

// A date-only `publish_at` is published from 00:00 of that day in the project's zone `tz`.
export function isDraft(props, tz, now = serviceNow().getTime()) {
  if (!props.publish_at) return false;
  const from = props.publish_at.length === 10 ? wallToInstant(props.publish_at, "00:00", tz) : new Date(props.publish_at);
  return from.getTime() > now;
}

function link(hash, text) { return el("a", { href: `#${hash}${lang === "en" ? "" : ""}`, text }); }

export async function showOverview(view, desk) {
  const projects = (await api.projects()).data.projects.filter((p) => desk.me.role === "admin" || p.agency === desk.me.agency);
  const mine = new Set(projects.map((p) => p.id));
  const names = Object.fromEntries(projects.map((p) => [p.id, p.name]));
  const zones = Object.fromEntries(projects.map((p) => [p.id, p.timezone]));
  const closures = (await api.closures()).data.features.filter((f) => mine.has(f.properties.project));
  const search = el("input", { id: "search", type: "search" });
  const status = el("select", { id: "status-filter" },
    ...["all", "active", "paused", "upcoming", "completed", "cancelled", "draft"].map((s) =>
      el("option", { value: s, text: t(s) })));
  const tbody = el("tbody");
  const draw = () => {
    const words = search.value.trim().toLowerCase();
    tbody.replaceChildren(...closures.filter((f) => {
      const p = f.properties;
      const text = `${p.road} ${p.from || ""} ${p.to || ""} ${names[p.project] || ""}`.toLowerCase();
      const wanted = status.value === "all" || (status.value === "draft" ? isDraft(p, zones[p.project]) : p.status === status.value);
      return wanted && (!words || text.includes(words));
    }).map((f) => row(f, names, zones)));
    if (!tbody.children.length) tbody.append(el("tr", {}, el("td", { colspan: 5, text: t("none_yet") })));
  };
  search.addEventListener("input", draw);
  status.addEventListener("change", draw);
  const now = serviceNow().getTime();
  const soon = closures.filter((f) => f.properties.next_change
    && new Date(f.properties.next_change).getTime() - now < WEEK_MS);
  const drafts = closures.filter((f) => isDraft(f.properties, zones[f.properties.project]));
  view.append(
    el("h2", { text: t("projects") }),
    el("ul", { class: "projects" }, ...projects.map((p) => el("li", {}, link(`project/${encodeURIComponent(p.id)}`, p.name),
      " · ", link(`closure/new?project=${encodeURIComponent(p.id)}`, t("new_closure_here"))))),
    el("div", { class: "columns" },
      el("section", { class: "card", "aria-labelledby": "next7-h" }, el("h3", { id: "next7-h", text: t("next7") }),
        listOf(soon, zones)),
      el("section", { class: "card", "aria-labelledby": "drafts-h" }, el("h3", { id: "drafts-h", text: t("drafts") }),
        listOf(drafts, zones, true))),
    el("h2", { text: t("closures") }),
    el("div", { class: "filters" },
      el("label", { for: "search", text: t("search") }), search,
      el("label", { for: "status-filter", text: t("filter_status") }), status),
    el("table", { class: "closures" },
      el("thead", {}, el("tr", {}, ...["road", "project", "status_now", "next_change", "draft"].map((k) =>
        el("th", { scope: "col", text: t(k) })))),
      tbody));
  draw();
}

function title(p) { return `${p.road}${p.from || p.to ? `（${p.from || "…"}—${p.to || "…"}）` : ""}`; }

function listOf(features, zones, drafts = false) {
  if (!features.length) return el("p", { text: t("nothing") });
  return el("ul", {}, ...features.map((f) => el("li", {}, el("a", { href: `#closure/${encodeURIComponent(f.id)}`,
    text: title(f.properties) }), " · ",
    drafts ? `${t("draft_until")} ${f.properties.publish_at}` : nextChangeText(f.properties, zones[f.properties.project]))));
}

function row(f, names, zones) {
  const p = f.properties;
  return el("tr", { dataset: { closureId: f.id, status: p.status } },
    el("td", {}, el("a", { href: `#closure/${encodeURIComponent(f.id)}`, text: title(p) })),
    el("td", { text: names[p.project] || p.project }),
    el("td", {}, el("span", { class: `badge status-${p.status}`, text: t(p.status) })),
    el("td", { text: nextChangeText(p, zones[p.project]) }),
    el("td", { text: isDraft(p, zones[p.project]) ? `${t("draft_until")} ${p.publish_at}` : "" }));
}
