// A closure's history, readable: who, when, what changed; any old version restored as a new one.
import { api } from "./api.js";
import { t } from "./i18n.js";
import { day, dayTime, el } from "./util.js";

const READ_ONLY = ["status", "next_change", "length_m", "version", "created_at", "updated_at"];

export function describe(key, value) {
  if (value === null || value === undefined || value === "") return "—";
  if (key === "geometry") {
    const parts = value.type === "MultiLineString" ? value.coordinates : [value.coordinates];
    return `${parts.reduce((n, p) => n + p.length, 0)} · ${parts.length} ${t("parts")}`;
  }
  if (key === "schedule") {
    const span = (s, note) => `${s.start}–${s.end || "…"}${s[note] ? ` ${s[note]}` : ""}`;
    const out = [(value.windows || []).map((w) => span(w, "label")).join(", ")];
    if (value.pauses?.length) out.push(`${t("pauses")}: ${value.pauses.map((p) => span(p, "reason")).join(", ")}`);
    if (value.hours?.length) out.push(`${t("hours")}: ${value.hours.map((h) => `${h.days.join(",")} ${h.start}–${h.end}${h.end <= h.start ? ` ${t("next_day")}` : ""}`).join("; ")}`);
    return out.join(" · ");
  }
  if (typeof value === "boolean") return value ? "✓" : "✗";
  return String(value);
}

function label(path) {
  const key = path.replace(/^properties\./, "");
  return { geometry: t("line"), actual_start: t("actual_start"), actual_end: t("actual_end"),
    publish_at: t("publish_at"), cancelled: t("cancelled_field"), project: t("project") }[key] || t(key);
}

// `tz`: the zone of the closure's project, whose local time each entry is shown in.
export async function showHistory(box, id, currentEtag, restored, tz) {
  const entries = (await api.history(id)).data.history;
  box.replaceChildren(el("h3", { id: "history-h", text: t("history") }), el("ol", { class: "history-list", reversed: true },
    ...entries.slice().reverse().map((entry) => el("li", {},
      el("p", {}, el("strong", { text: `${t("version")} ${entry.version}` }), ` · ${t(`action_${entry.action}`)} · `,
        el("span", { text: dayTime(entry.at, tz) }), ` · ${t("by")} `, el("span", { text: entry.by })),
      el("ul", {}, ...Object.entries(entry.changes || {}).filter(([path]) => !["id", "type"].includes(path))
        .map(([path, change]) => el("li", {}, el("span", { class: "what", text: `${label(path)}: ` }),
          `${describe(path.replace(/^properties\./, ""), change.from)} → ${describe(path.replace(/^properties\./, ""), change.to)}`))),
      entry.version < entries.at(-1).version && entry.action !== "delete"
        ? el("button", { type: "button", class: "small", text: `${t("restore")} (${entry.version})`, on: { click: async () => {
          restored(await api.replaceClosure(id, rebuild(entries, entry.version), currentEtag()));
        } } }) : null))));
}

// The document as it was at `version`: every change up to it replayed forwards.
function rebuild(entries, version) {
  const doc = { type: "Feature", properties: {} };
  for (const entry of entries) {
    if (entry.version > version) break;
    for (const [path, change] of Object.entries(entry.changes || {})) {
      if (path.startsWith("properties.")) doc.properties[path.slice(11)] = change.to;
      else if (path !== "id") doc[path] = change.to;
    }
  }
  for (const key of READ_ONLY) delete doc.properties[key];
  for (const [key, value] of Object.entries(doc.properties)) if (value === null) delete doc.properties[key];
  return doc;
}
export { day };
