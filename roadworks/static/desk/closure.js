// One closure: the form (line, fields, windows, pauses, hours, dates), preview, one-step actions, history, merge.
import { api, ApiError } from "./api.js";
import { createDrawing } from "./drawing.js";
import { clearErrors, showErrors } from "./errors.js";
import { t } from "./i18n.js";
import { renderPreview } from "./timeline.js";
import { describe, showHistory } from "./history.js";
import { hoursList, spanList } from "./spans.js";
import { el, field, flash, localDate, normal, select, serviceNow } from "./util.js";

const IMPACTS = ["closed", "lanes-closed", "alternating", "restricted"];
const DIRECTIONS = ["both", "forward", "backward"];
const COMPARED = ["geometry", "road", "from", "to", "impact", "direction", "description", "detour", "schedule",
  "actual_start", "actual_end", "publish_at", "cancelled"];

export async function showClosure(view, id, desk, params = new URLSearchParams()) {
  const projects = (await api.projects()).data.projects.filter((p) => desk.me.role === "admin" || p.agency === desk.me.agency);
  const all = (await api.closures()).data.features;
  let base = null, etag = null;
  if (id) ({ data: base, etag } = await api.closure(id));
  const copy = params.get("copy") ? (await api.closure(params.get("copy"))).data : null;
  const start = base || copy || { geometry: null, properties: { project: params.get("project") || projects[0]?.id,
    schedule: { windows: [] } } };
  const p = start.properties;
  const s = p.schedule || { windows: [] };
  const mine = new Set(projects.map((x) => x.id));

  const project = select(projects.map((x) => [x.id, x.name]), p.project);
  // Dates are local days in the chosen project's zone; the service's own for a project not (yet) listed.
  const zone = () => projects.find((x) => x.id === project.value)?.timezone || desk.config.timezone;
  const road = el("input", { type: "text", value: p.road || "" });
  const from = el("input", { type: "text", value: p.from || "" });
  const to = el("input", { type: "text", value: p.to || "" });
  const impact = select(IMPACTS.map((v) => [v, t(`impact_${v}`)]), p.impact || "closed");
  const direction = select(DIRECTIONS.map((v) => [v, t(`direction_${v}`)]), p.direction || "both");
  const description = el("textarea", { rows: 2 }); description.value = p.description || "";
  const detour = el("textarea", { rows: 2 }); detour.value = p.detour || "";
  const actualStart = el("input", { type: "text", value: copy ? "" : p.actual_start || "", placeholder: "YYYY-MM-DD" });
  const actualEnd = el("input", { type: "text", value: copy ? "" : p.actual_end || "", placeholder: "YYYY-MM-DD" });
  const publishAt = el("input", { type: "text", value: p.publish_at || "", placeholder: "YYYY-MM-DD" });
  const later = debounce(() => preview(), 400);
  const windows = spanList("window", s.windows || [], "schedule.windows", later);
  const pauses = spanList("pause", s.pauses || [], "schedule.pauses", later);
  const hours = hoursList(s.hours || [], later);
  const lineBox = el("div", { class: "line-box" });
  const previewBox = el("section", { class: "card preview", "aria-labelledby": "preview-h" });
  const form = el("form", { class: "form closure-form", novalidate: true },
    el("h2", { text: id ? `${t("closure_title")}：${p.road}` : t("nav_new_closure") }),
    el("ul", { class: "form-errors", tabindex: "-1" }),
    field(t("project"), project, "project"),
    el("fieldset", {}, el("legend", { text: t("line") }), lineBox),
    el("div", { class: "grid" }, field(t("road"), road, "road"), field(t("from"), from, "from"), field(t("to"), to, "to"),
      field(t("impact"), impact, "impact"), field(t("direction"), direction, "direction")),
    field(t("description"), description, "description"), field(t("detour"), detour, "detour"),
    el("fieldset", {}, el("legend", { text: t("windows") }), windows),
    el("fieldset", {}, el("legend", { text: t("pauses") }), pauses),
    el("fieldset", {}, el("legend", { text: t("hours") }), hours),
    el("fieldset", {}, el("legend", { text: t("dates") }), el("div", { class: "grid" },
      field(t("actual_start"), actualStart, "actual_start"), field(t("actual_end"), actualEnd, "actual_end"),
      field(t("publish_at"), publishAt, "publish_at"))),
    el("div", { class: "buttons sticky" },
      el("button", { type: "submit", class: "primary", id: "save", text: t("save") }),
      el("button", { type: "button", id: "publish", text: t("publish"), on: { click: () => publish() } }),
      el("button", { type: "button", text: t("preview"), on: { click: () => preview() } }),
      el("a", { href: "#overview", text: t("back") })));
  const side = el("div", { class: "side" }, previewBox);
  view.append(el("div", { class: "closure-page" }, form, side));
  const neighbours = all.filter((f) => f.id !== id && mine.has(f.properties.project));
  const drawing = createDrawing(lineBox, desk.config, { geometry: start.geometry, neighbours, onChange: () => {} });
  direction.addEventListener("change", () => drawing.setDirection(direction.value));
  drawing.setDirection(direction.value);
  project.addEventListener("change", later);
  for (const input of [actualStart, actualEnd]) input.addEventListener("change", later);

  const text = (input) => input.value.trim() || null;
  function feature() {
    return { type: "Feature", geometry: drawing.geometry(), properties: {
      project: project.value, road: road.value.trim(), from: text(from), to: text(to), impact: impact.value,
      direction: direction.value, description: text(description), detour: text(detour),
      schedule: { windows: windows.value(), pauses: pauses.value(), hours: hours.value() },
      actual_start: text(actualStart), actual_end: text(actualEnd), publish_at: text(publishAt),
      cancelled: Boolean(base?.properties.cancelled) } };
  }

  async function save(body = feature()) {
    clearErrors(form);
    try {
      const saved = id ? await api.replaceClosure(id, body, etag) : await api.createClosure(body);
      flash(t("saved"));
      if (id) { base = saved.data; etag = saved.etag; show(saved.data); }
      else location.hash = `#closure/${encodeURIComponent(saved.data.id)}`;
      return saved;
    } catch (error) {
      if (!(error instanceof ApiError) || error.status === 401) throw error;
      if (error.status === 412) return conflict(body);
      showErrors(form, error, "properties.");
      return null;
    }
  }
  form.addEventListener("submit", (event) => { event.preventDefault(); save(); });

  async function publish() {
    if (!id) { publishAt.value = ""; return save(); }
    return act(() => api.patchClosure(id, { properties: { publish_at: null } }, etag), t("published"));
  }

  async function act(step, message) {
    try {
      const done = await step();
      base = done.data; etag = done.etag;
      flash(message);
      show(done.data);
    } catch (error) {
      if (!(error instanceof ApiError) || error.status === 401) throw error;
      if (error.status === 412) { flash(error.message, "bad"); return; }
      showErrors(form, error, "properties.");
    }
  }

  function show(saved) {
    publishAt.value = saved.properties.publish_at || "";
    actualEnd.value = saved.properties.actual_end || "";
    actualStart.value = saved.properties.actual_start || "";
    actions.replaceChildren(...actionControls());
    preview();
    showHistory(historyBox, id, () => etag, restored, zone());
  }

  function restored(done) { base = done.data; etag = done.etag; flash(t("saved")); location.reload(); }

  // Someone saved first: both versions side by side, a choice per differing field, then one save.
  async function conflict(body) {
    const { data: theirs, etag: fresh } = await api.closure(id);
    const same = (a, b) => JSON.stringify(normal(a)) === JSON.stringify(normal(b));
    const rows = COMPARED.filter((k) => !same(value(body, k), value(theirs, k)));
    const choices = rows.map((k) => {
      const changedByMe = !same(value(body, k), value(base, k));
      const name = `merge-${k}`;
      const a = el("input", { type: "radio", name, value: "mine", id: `${name}-mine`, checked: changedByMe });
      const b = el("input", { type: "radio", name, value: "theirs", id: `${name}-theirs`, checked: !changedByMe });
      return { k, a, row: el("tr", {}, el("th", { scope: "row", text: t(k === "geometry" ? "line" : k) }),
        el("td", {}, el("label", { for: a.id }, a, ` ${describe(k, value(body, k))}`)),
        el("td", {}, el("label", { for: b.id }, b, ` ${describe(k, value(theirs, k))}`))) };
    });
    const box = el("section", { class: "card conflict", id: "conflict", role: "alertdialog", "aria-labelledby": "conflict-h" },
      el("h3", { id: "conflict-h", text: t("conflict_title") }), el("p", { text: t("conflict_help") }),
      el("table", {}, el("thead", {}, el("tr", {}, el("th", { text: t("field") }), el("th", { text: t("mine") }),
        el("th", { text: `${t("theirs")} (${t("version")} ${theirs.properties.version}, ${theirs.properties.updated_at || ""})` }))),
      el("tbody", {}, ...choices.map((c) => c.row))),
      el("button", { type: "button", class: "primary", id: "save-merge", text: t("save_merge"), on: { click: async () => {
        const merged = structuredClone(theirs);
        for (const key of ["status", "next_change", "length_m", "version", "created_at", "updated_at"]) delete merged.properties[key];
        for (const c of choices) if (c.a.checked) setValue(merged, c.k, value(body, c.k));
        etag = fresh; base = theirs;
        box.remove();
        await save(merged);
      } } }));
    side.prepend(box);
    box.querySelector("input")?.focus();
    flash(t("conflict_title"), "bad");
    return null;
  }

  // One-step actions on a stored closure.
  const actions = el("div", { class: "actions" });
  function actionControls() {
    if (!id) return [];
    const reopenAt = el("input", { type: "text", placeholder: "YYYY-MM-DD" });
    const newEnd = el("input", { type: "text", placeholder: "YYYY-MM-DD" });
    const pStart = el("input", { type: "text", placeholder: "YYYY-MM-DD" });
    const pEnd = el("input", { type: "text", placeholder: "YYYY-MM-DD" });
    const pReason = el("input", { type: "text" });
    const schedule = () => structuredClone(base.properties.schedule);
    const startedAt = el("input", { type: "text", placeholder: "YYYY-MM-DD" });
    return [
      el("div", { class: "action" }, field(t("started_at"), startedAt, "actual_start"),
        el("button", { type: "button", id: "works-started", text: t("works_started"), on: { click: () =>
          act(() => api.patchClosure(id, { properties: { actual_start: startedAt.value.trim() || serviceNow().toISOString() } },
            etag), t("started_done")) } })),
      el("div", { class: "action" }, field(t("reopen_at"), reopenAt, "at"),
        el("button", { type: "button", id: "reopen", text: t("reopen"), on: { click: () =>
          act(() => api.reopen(id, reopenAt.value.trim() || null), t("reopened")) } })),
      el("div", { class: "action" }, field(t("new_end"), newEnd),
        el("button", { type: "button", text: t("extend_end"), on: { click: () => {
          const next = schedule(); next.windows.at(-1).end = newEnd.value.trim() || null;
          return act(() => api.patchClosure(id, { properties: { schedule: next } }, etag), t("saved"));
        } } })),
      el("div", { class: "action" }, field(t("pause_start"), pStart), field(t("pause_end"), pEnd),
        field(t("pause_reason"), pReason),
        el("button", { type: "button", text: t("add_pause"), on: { click: () => {
          const next = schedule(); next.pauses = [...(next.pauses || []),
            { start: pStart.value.trim(), end: pEnd.value.trim() || null, reason: pReason.value.trim() || null }];
          return act(() => api.patchClosure(id, { properties: { schedule: next } }, etag), t("saved"));
        } } })),
      el("div", { class: "action buttons" },
        el("button", { type: "button", text: t("cancel_closure"), on: { click: () =>
          act(() => api.patchClosure(id, { properties: { cancelled: true } }, etag), t("cancelled_done")) } }),
        el("button", { type: "button", text: t("duplicate"), on: { click: () => {
          location.hash = `#closure/new?copy=${encodeURIComponent(id)}`; } } }))];
  }
  const historyBox = el("section", { class: "card history", "aria-labelledby": "history-h" });
  if (id) {
    side.append(el("section", { class: "card", "aria-labelledby": "actions-h" }, el("h3", { id: "actions-h", text: t("actions") }), actions),
      historyBox);
    actions.replaceChildren(...actionControls());
    showHistory(historyBox, id, () => etag, restored, zone());
  }

  async function preview() {
    const body = feature().properties;
    const firsts = body.schedule.windows.map((w) => w.start).filter(Boolean).sort();
    const today = localDate(serviceNow(), zone());
    const anchor = firsts[0] && firsts[0] < today ? firsts[0].slice(0, 10) : today;
    const fromDay = `${anchor.slice(0, 7)}-01`;
    const end = new Date(`${fromDay}T00:00:00Z`); end.setUTCMonth(end.getUTCMonth() + 8);
    try {
      const answer = (await api.preview({ schedule: body.schedule, project: body.project || undefined,
        actual_start: body.actual_start, actual_end: body.actual_end, cancelled: body.cancelled,
        from: fromDay, to: end.toISOString().slice(0, 10) })).data;
      renderPreview(previewBox, answer, drawing);
      for (const node of form.querySelectorAll("[data-path^='schedule'] ~ .error")) node.textContent = "";
    } catch (error) {
      if (!(error instanceof ApiError) || error.status === 401) throw error;
      previewBox.replaceChildren(el("h3", { id: "preview-h", text: t("preview_title") }),
        el("p", { class: "error", text: Object.entries(error.errors).map(([k, v]) => `${k}: ${v.join("; ")}`).join(" · ") || error.message }));
    }
  }
  if ((s.windows || []).length) preview();
  else previewBox.append(el("h3", { id: "preview-h", text: t("preview_title") }));
  (id ? road : project).focus();
}

function value(f, key) { return key === "geometry" ? f.geometry : f.properties[key] ?? null; }
function setValue(f, key, v) { if (key === "geometry") f.geometry = v; else f.properties[key] = v; }

function debounce(fn, ms) {
  let timer = null;
  return () => { clearTimeout(timer); timer = setTimeout(fn, ms); };
}
