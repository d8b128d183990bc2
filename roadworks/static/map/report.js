// Residents' reports from the map: a form for a closure (its card) or a point (long press, right click, or the
// map's centre by keyboard), the reports this browser filed (kept in localStorage) with the bureau's replies,
// and a closure's open and answered counts. Everything residents or the bureau wrote goes in as text, never HTML.

import {language} from "./i18n.js";

const L = window.L;
const STORE = "roadworks.reports";
const KEEP = 50;  // reports remembered in this browser
const FOLLOW_EVERY_MS = 5 * 60 * 1000;
const KINDS = ["open-but-shown-closed", "closed-but-no-works", "detour-problem", "unsafe-site", "noise-or-hours",
               "other"];
const TEXT_MAX = 2000;

const WORDS = {
  "zh-CN": {
    report: "报告问题",
    reportHere: "报告此处的问题",
    reportCentre: "报告地图中心位置的问题",
    formTitleClosure: "报告问题：{road}",
    formTitlePoint: "报告地图上这一点的问题",
    kindLegend: "遇到了什么情况？",
    "kind.open-but-shown-closed": "路已通行，地图却显示封闭",
    "kind.closed-but-no-works": "路被封闭，但没有施工",
    "kind.detour-problem": "绕行指示有问题（缺少或有误）",
    "kind.unsafe-site": "施工现场不安全",
    "kind.noise-or-hours": "噪音或施工时间不符",
    "kind.other": "其他",
    text: "请描述您看到的情况",
    textHint: "最多 {n} 字。",
    contact: "联系电话或电子邮箱（选填）",
    contactHint: "仅负责单位可见，用于回复您；问题处理完毕 180 天后自动删除。",
    trap: "请勿填写此项",
    send: "提交",
    cancel: "取消",
    sending: "正在提交…",
    sent: "已提交。您可以在“我的报告”中查看处理进度和答复。",
    failed: "提交失败，请检查：{reason}",
    tooMany: "提交过于频繁，请 {n} 秒后再试。",
    offline: "无法连接服务器，请稍后再试。",
    chooseKind: "请选择情况类型。",
    writeText: "请描述您看到的情况。",
    "field.kind": "情况类型", "field.text": "描述", "field.contact": "联系方式", "field.point": "位置",
    "field.closure": "路段", "field.body": "内容",
    mine: "我的报告",
    mineEmpty: "您还没有提交报告。",
    followLink: "查看此报告",
    onPoint: "地图上的位置",
    "state.new": "已提交，待处理",
    "state.acknowledged": "已受理，正在处理",
    "state.resolved": "已解决",
    "state.rejected": "未采纳",
    reply: "答复：",
    gone: "找不到此报告",
    counts: "居民报告：{open} 条待处理，{answered} 条已答复",
    countsNone: "暂无居民报告",
    filed: "提交于 {time}",
  },
  en: {
    report: "Report a problem",
    reportHere: "Report a problem here",
    reportCentre: "Report a problem at the map's centre",
    formTitleClosure: "Report a problem: {road}",
    formTitlePoint: "Report a problem at this point on the map",
    kindLegend: "What did you see?",
    "kind.open-but-shown-closed": "The road is open but the map shows it closed",
    "kind.closed-but-no-works": "The road is closed but no work is going on",
    "kind.detour-problem": "The detour signs are missing or wrong",
    "kind.unsafe-site": "The work site is unsafe",
    "kind.noise-or-hours": "Noise, or work outside the stated hours",
    "kind.other": "Something else",
    text: "Describe what you see",
    textHint: "At most {n} characters.",
    contact: "Phone or e-mail for a reply (optional)",
    contactHint: "Only the responsible bureau sees it; it is deleted 180 days after the report is closed.",
    trap: "Leave this empty",
    send: "Send",
    cancel: "Cancel",
    sending: "Sending…",
    sent: "Sent. Follow it and read the bureau's reply under “My reports”.",
    failed: "Not sent; please check: {reason}",
    tooMany: "Too many reports from here; try again in {n} seconds.",
    offline: "The server cannot be reached; try again later.",
    chooseKind: "Choose what you saw.",
    writeText: "Describe what you see.",
    "field.kind": "what you saw", "field.text": "description", "field.contact": "contact", "field.point": "place",
    "field.closure": "closure", "field.body": "report",
    mine: "My reports",
    mineEmpty: "You have not sent any reports.",
    followLink: "Open this report",
    onPoint: "A point on the map",
    "state.new": "Sent, waiting",
    "state.acknowledged": "Being looked into",
    "state.resolved": "Resolved",
    "state.rejected": "Not taken up",
    reply: "Reply: ",
    gone: "This report cannot be found",
    counts: "Residents' reports: {open} open, {answered} answered",
    countsNone: "No residents' reports",
    filed: "Sent {time}",
  },
};

const state = {map: null, dialog: null, target: null, marker: null, followed: new Map(), lastFocus: null};

function w(key, vars = {}) {
  const text = (WORDS[language()] || WORDS["zh-CN"])[key] ?? WORDS["zh-CN"][key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ""));
}

function el(tag, className, text) {
  const element = document.createElement(tag);
  if (className) element.className = className;
  if (text != null) element.textContent = text;
  return element;
}

// ---------------------------------------------------------------- kept in this browser

export function remembered() {
  try {
    const list = JSON.parse(localStorage.getItem(STORE) || "[]");
    return Array.isArray(list) ? list.filter(r => r && typeof r.id === "string" && typeof r.key === "string") : [];
  } catch {
    return [];
  }
}

function remember(entry) {
  const list = [entry, ...remembered().filter(r => r.id !== entry.id)].slice(0, KEEP);
  try {
    localStorage.setItem(STORE, JSON.stringify(list));
  } catch {
    // private mode or full: the report is filed; only this browser's memory of it is lost
  }
}

function followUrl(entry) {
  return `/api/v1/reports/${encodeURIComponent(entry.id)}?${new URLSearchParams({key: entry.key})}`;
}

/** A link to this page that brings the report into any browser's "My reports". */
function shareUrl(entry) {
  const query = new URLSearchParams(location.search);
  query.set("report", `${entry.id}.${entry.key}`);
  return `${location.pathname}?${query}`;
}

/** `?report=id.key` (a link the resident kept) adds that report to this browser's list. */
function adoptFromAddress() {
  const query = new URLSearchParams(location.search);
  const value = query.get("report") || "";
  const dot = value.indexOf(".");
  if (dot > 0) remember({id: value.slice(0, dot), key: value.slice(dot + 1), at: null});
}

// ---------------------------------------------------------------- the map: long press or right click

/** Hook the map; call once after it is made. */
export function installReports(map) {
  state.map = map;
  adoptFromAddress();
  map.on("contextmenu", event => openForm({point: event.latlng}));
  buildDialog();
  followAll();
  setInterval(followAll, FOLLOW_EVERY_MS);
}

// ---------------------------------------------------------------- the closure's card

/** The card's reporting part: counts by open and answered, and the button. */
export function renderReportCard(container, feature) {
  const section = el("section", "rw-report-card");
  const counts = feature.properties.reports;
  if (counts) {
    const open = (counts.new || 0) + (counts.acknowledged || 0);
    const answered = (counts.resolved || 0) + (counts.rejected || 0);
    const line = el("p", "rw-report-counts", open + answered ? w("counts", {open, answered}) : w("countsNone"));
    line.dataset.open = String(open);
    line.dataset.answered = String(answered);
    section.append(line);
  }
  const button = el("button", "rw-report-button", w("report"));
  button.type = "button";
  button.dataset.report = "closure";
  button.addEventListener("click", () => openForm({closure: feature}));
  section.append(button);
  container.append(section);
}

/** The list's reporting part: a keyboard way to report a point (the map's centre) and this browser's reports. */
export function renderReportsArea(container) {
  const drawn = `${language()}|${JSON.stringify(remembered().map(r => [r.id, state.followed.get(r.id)?.state,
                                                                       state.followed.get(r.id)?.reply]))}`;
  if (container.dataset.drawn === drawn) return;  // unchanged: keep the buttons (and a keyboard user's focus)
  container.dataset.drawn = drawn;
  const point = el("button", "rw-report-button rw-report-point", w("reportCentre"));
  point.type = "button";
  point.addEventListener("click", () => openForm({point: state.map.getCenter()}));
  const mine = el("section", "rw-my-reports");
  mine.setAttribute("aria-labelledby", "rw-my-reports-title");
  const title = el("h3", "rw-my-reports-title", w("mine"));
  title.id = "rw-my-reports-title";
  mine.append(title, myReports());
  container.replaceChildren(point, mine);
}

function myReports() {
  const list = remembered();
  if (!list.length) return el("p", "rw-my-reports-empty", w("mineEmpty"));
  const items = el("ul", "rw-my-reports-list");
  for (const entry of list) items.append(myReport(entry));
  return items;
}

function myReport(entry) {
  const item = el("li", "rw-my-report");
  item.dataset.reportId = entry.id;
  const seen = state.followed.get(entry.id);
  const about = entry.road || (entry.closure ? entry.closure : w("onPoint"));
  item.append(el("span", "rw-my-report-about", `${entry.kind ? w(`kind.${entry.kind}`) : ""}${entry.kind ? " · " : ""}${about}`));
  if (seen === null) {
    item.append(el("span", "rw-my-report-state", w("gone")));
  } else if (seen) {
    const badge = el("span", `rw-my-report-state state-${seen.state}`, w(`state.${seen.state}`));
    badge.dataset.state = seen.state;
    item.append(badge);
    if (seen.reply) {
      const reply = el("p", "rw-my-report-reply");
      reply.append(el("strong", "", w("reply")), el("span", "", seen.reply));
      item.append(reply);
    }
  }
  const link = el("a", "rw-my-report-link", w("followLink"));
  link.href = shareUrl(entry);
  item.append(link);
  return item;
}

async function followAll() {
  await Promise.all(remembered().map(follow));
  refreshMine();
}

async function follow(entry) {
  try {
    const response = await fetch(followUrl(entry), {headers: {Accept: "application/json"}, cache: "no-store"});
    if (response.status === 404) state.followed.set(entry.id, null);
    else if (response.ok) state.followed.set(entry.id, await response.json());
  } catch {
    // offline: keep what was last seen
  }
}

function refreshMine() {
  const area = document.getElementById("report-area");
  if (area) renderReportsArea(area);
}

// ---------------------------------------------------------------- the form

function buildDialog() {
  const dialog = el("dialog", "rw-report-dialog");
  dialog.setAttribute("aria-labelledby", "rw-report-title");
  dialog.addEventListener("close", () => {
    if (state.marker) state.marker.remove();
    state.marker = null;
    state.lastFocus?.focus?.();
  });
  // Escape closes the form only, not the closure's card beneath it (the page closes the card on Escape).
  dialog.addEventListener("keydown", event => { if (event.key === "Escape") event.stopPropagation(); });
  document.body.append(dialog);
  state.dialog = dialog;
}

function openForm(target) {
  state.target = target;
  state.lastFocus = document.activeElement;
  const dialog = state.dialog;
  dialog.replaceChildren(form(target));
  if (target.point) {
    if (state.marker) state.marker.remove();
    state.marker = L.circleMarker(target.point, {radius: 9, className: "rw-report-marker"}).addTo(state.map);
  }
  dialog.showModal();
  dialog.querySelector("input[name=kind]")?.focus();
}

function form(target) {
  const form = el("form", "rw-report-form");
  form.noValidate = true;
  const title = el("h2", "rw-report-title",
                   target.closure ? w("formTitleClosure", {road: target.closure.properties.road}) : w("formTitlePoint"));
  title.id = "rw-report-title";
  const kinds = el("fieldset", "rw-report-kinds");
  kinds.append(el("legend", "", w("kindLegend")));
  for (const kind of KINDS) {
    const label = el("label", "rw-report-kind");
    const input = el("input");
    Object.assign(input, {type: "radio", name: "kind", value: kind, required: true});
    label.append(input, el("span", "", w(`kind.${kind}`)));
    kinds.append(label);
  }
  const text = field("textarea", "text", w("text"), w("textHint", {n: TEXT_MAX}));
  Object.assign(text.input, {maxLength: TEXT_MAX, rows: 4, required: true});
  const contact = field("input", "contact", w("contact"), w("contactHint"));
  Object.assign(contact.input, {type: "text", autocomplete: "email", inputMode: "email", maxLength: 254});
  const trap = el("label", "rw-report-trap");  // hidden from people; scripts fill it and are refused
  trap.setAttribute("aria-hidden", "true");
  const trapInput = el("input");
  Object.assign(trapInput, {type: "text", name: "website", tabIndex: -1, autocomplete: "off"});
  trap.append(el("span", "", w("trap")), trapInput);
  const status = el("p", "rw-report-status");
  status.setAttribute("role", "status");
  status.setAttribute("aria-live", "polite");
  const send = el("button", "rw-report-send", w("send"));
  send.type = "submit";
  const cancel = el("button", "rw-report-cancel", w("cancel"));
  cancel.type = "button";
  cancel.addEventListener("click", () => state.dialog.close());
  const buttons = el("div", "rw-report-buttons");
  buttons.append(send, cancel);
  form.append(title, kinds, text.label, contact.label, trap, status, buttons);
  form.addEventListener("submit", event => {
    event.preventDefault();
    submit(form, status, send);
  });
  return form;
}

function field(tag, name, label, hint) {
  const wrapper = el("label", "rw-report-field");
  const input = el(tag);
  input.name = name;
  input.id = `rw-report-${name}`;
  const hintText = el("span", "rw-report-hint", hint);
  hintText.id = `rw-report-${name}-hint`;
  input.setAttribute("aria-describedby", hintText.id);
  wrapper.append(el("span", "rw-report-label", label), input, hintText);
  return {label: wrapper, input};
}

async function submit(form, status, send) {
  const data = new FormData(form);
  if (!data.get("kind")) {
    status.textContent = w("chooseKind");
    form.querySelector("input[name=kind]")?.focus();
    return;
  }
  if (!String(data.get("text") || "").trim()) {
    status.textContent = w("writeText");
    form.querySelector("textarea[name=text]")?.focus();
    return;
  }
  const target = state.target;
  const body = {kind: data.get("kind"), text: String(data.get("text") || "")};
  if (target.closure) body.closure = target.closure.id;
  else body.point = {type: "Point", coordinates: [round(target.point.lng), round(target.point.lat)]};
  const contact = String(data.get("contact") || "").trim();
  if (contact) body.contact = contact;
  if (data.get("website")) body.website = String(data.get("website"));
  send.disabled = true;
  status.textContent = w("sending");
  try {
    const response = await fetch("/api/v1/reports", {method: "POST", headers: {"Content-Type": "application/json",
                                                                            Accept: "application/json"},
                                                     body: JSON.stringify(body)});
    const answer = await response.json().catch(() => ({}));
    if (response.status === 201) {
      const entry = {id: answer.id, key: answer.key, kind: body.kind, closure: answer.closure,
                     road: target.closure?.properties.road || null, at: answer.created_at};
      remember(entry);
      state.followed.set(entry.id, answer);
      status.textContent = w("sent");
      form.querySelector(".rw-report-buttons").replaceChildren(doneButton());
      refreshMine();
      return;
    }
    status.textContent = problemText(response, answer);
    markFields(form, answer.errors || {});
  } catch {
    status.textContent = w("offline");
  }
  send.disabled = false;
}

function doneButton() {
  const done = el("button", "rw-report-cancel", "OK");
  done.type = "button";
  done.addEventListener("click", () => state.dialog.close());
  queueMicrotask(() => done.focus());
  return done;
}

function problemText(response, answer) {
  if (response.status === 429) return w("tooMany", {n: response.headers.get("Retry-After") || "60"});
  // The server's reasons are English; the field they name is said in the page's language.
  const fields = Object.entries(answer.errors || {})
    .map(([path, messages]) => `${w(`field.${path.split(".")[0]}`)} (${messages.join("; ")})`);
  return w("failed", {reason: fields.join(" · ") || answer.detail || response.status});
}

function markFields(form, errors) {
  for (const input of form.querySelectorAll("input, textarea")) {
    const wrong = Object.keys(errors).some(path => path === input.name || path.startsWith(`${input.name}.`));
    input.setAttribute("aria-invalid", String(wrong));
  }
  const first = form.querySelector("[aria-invalid=true]");
  if (first) first.focus();
}

function round(value) {
  return Math.round(value * 1e7) / 1e7;
}
