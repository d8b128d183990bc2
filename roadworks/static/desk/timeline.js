// The preview: the coming months as a bar (closed, paused, open) and the closure as residents see it on a day.
import { lang, t } from "./i18n.js";
import { day, el, field, localDate, nextChangeText, serviceNow, wallToInstant } from "./util.js";

export function renderPreview(box, answer, drawing) {
  const tz = answer.timezone;
  const from = new Date(answer.from).getTime(), to = new Date(answer.to).getTime();
  const span = to - from;
  const pct = (ms) => `${Math.max(0, Math.min(100, ((ms - from) / span) * 100))}%`;
  const bar = el("div", { class: "timeline-bar", role: "img",
    "aria-label": answer.periods.map((p) => `${t(p.state)} ${day(p.start, tz)}–${p.end ? day(p.end, tz) : "…"}`).join("; ") || t("nothing") });
  for (const p of answer.periods) {
    const start = Math.max(from, new Date(p.start).getTime());
    const end = p.end ? Math.min(to, new Date(p.end).getTime()) : to;
    const piece = el("div", { class: `period state-${p.state}`, title: `${t(p.state)} ${day(p.start, tz)}–${p.end ? day(p.end, tz) : "…"}${p.label ? ` · ${p.label}` : ""}` });
    piece.style.left = pct(start);
    piece.style.width = `${Math.max(0.3, ((end - start) / span) * 100)}%`;
    bar.append(piece);
  }
  const months = el("div", { class: "timeline-months", "aria-hidden": "true" });
  const year = Number(answer.from.slice(0, 4)), month = Number(answer.from.slice(5, 7)) - 1;
  const monthName = new Intl.DateTimeFormat(lang === "en" ? "en-GB" : "zh-CN", { month: "short", timeZone: "UTC" });
  for (let i = 0; i < 12; i += 1) {
    const y = year + Math.floor((month + i) / 12), m = (month + i) % 12;
    const at = wallToInstant(`${y}-${String(m + 1).padStart(2, "0")}-01`, "00:00", tz).getTime();
    if (at >= to) break;
    const label = el("span", { text: monthName.format(new Date(Date.UTC(y, m, 15))) });
    label.style.left = pct(at);
    months.append(label);
  }
  const changes = el("ol", { class: "changes" }, ...answer.statuses.map((s) =>
    el("li", {}, `${day(s.at, tz)}: `, el("span", { class: `badge status-${s.status}`, text: t(s.status) }))));
  const chosen = el("input", { type: "date", id: "see-on", value: localDate(serviceNow(), tz) });
  const seen = el("p", { class: "residents", id: "residents-see", "aria-live": "polite" });
  const look = () => {
    const at = wallToInstant(chosen.value, "12:00", tz).getTime();
    let current = answer.statuses[0], next = null;
    for (const s of answer.statuses) { if (new Date(s.at).getTime() <= at) current = s; else { next = next || s; } }
    if (!current) return;
    const status = current.status;
    seen.textContent = `${t("residents_see")}${nextChangeText({ status, next_change: next?.at || null }, tz)}`;
    drawing?.setLook(status);
  };
  chosen.addEventListener("change", look);
  box.replaceChildren(el("h3", { id: "preview-h", text: t("preview_title") }), months, bar,
    el("div", { class: "legend" }, ...["active", "paused"].map((s) => el("span", { class: `key state-${s}`, text: t(s) })),
      el("span", { class: "key state-open", text: t("open") })),
    changes, field(t("see_on"), chosen), seen);
  look();
}
