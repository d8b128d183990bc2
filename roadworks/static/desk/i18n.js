// The desk's words in Chinese (default) and English (?lang=en); English form labels are fixed by the contract.
const WORDS = {
  title: ["建设局工作台", "Bureau desk"],
  nav_overview: ["总览", "Overview"], nav_new_project: ["新建工程", "New project"],
  nav_new_closure: ["新建封闭路段", "New closure"], nav_import: ["导入", "Import"],
  sign_out: ["退出", "Sign out"], signin_title: ["登录", "Sign in"],
  signin_help: ["请输入管理员发给您的令牌。", "Enter the token the administrator gave you."],
  token: ["令牌", "Token"], sign_in: ["登录", "Sign in"],
  signed_in_as: ["已登录：", "Signed in as "], session_ended: ["登录已过期，请重新登录。", "Your session ended; sign in again."],
  projects: ["工程", "Projects"], closures: ["封闭路段", "Closures"], drafts: ["草稿", "Drafts"],
  next7: ["未来7天的变化", "Changes in the next 7 days"], nothing: ["无", "None"],
  search: ["搜索道路", "Search roads"], filter_status: ["状态", "Status"], all: ["全部", "All"],
  edit: ["编辑", "Edit"], new_closure_here: ["新建封闭路段", "New closure"],
  status_now: ["当前状态", "Status now"], next_change: ["下次变化", "Next change"], project: ["工程", "Project"],
  draft_until: ["草稿，发布于", "Draft until"], draft: ["草稿", "Draft"],
  active: ["封闭中", "closed"], paused: ["暂停施工", "paused"], upcoming: ["即将封闭", "upcoming"],
  completed: ["已结束", "completed"], cancelled: ["已取消", "cancelled"],
  closed_until: ["封闭至 {d}", "closed until {d}"], closed_from: ["{d}起封闭", "closed from {d}"],
  paused_until: ["暂停至 {d}", "paused until {d}"], open_again: ["{d}恢复通行", "open again {d}"],
  until_notice: ["封闭，另行通知", "closed until further notice"],
  // project form
  project_title: ["工程", "Project"], name: ["名称", "Name"], agency: ["负责单位", "Agency"],
  contact: ["联系方式", "Contact"], reference: ["许可证号", "Reference"], timezone: ["时区", "Time zone"],
  project_pauses: ["工程暂停（适用于所有路段）", "Project pauses (all its closures)"],
  // closure form (English labels fixed by the contract)
  closure_title: ["封闭路段", "Closure"], road: ["道路", "Road"], from: ["起点", "From"], to: ["终点", "To"],
  impact: ["影响", "Impact"], direction: ["方向", "Direction"], description: ["说明", "Description"],
  detour: ["绕行", "Detour"],
  impact_closed: ["全部封闭", "closed (all lanes)"], "impact_lanes-closed": ["部分车道封闭", "lanes closed"],
  impact_alternating: ["单车道交替通行", "alternating one lane"], impact_restricted: ["限制通行", "restricted"],
  direction_both: ["双向", "both"], direction_forward: ["沿画线方向", "forward (as drawn)"],
  direction_backward: ["逆画线方向", "backward (against drawing)"],
  windows: ["封闭时段（分期）", "Windows (phases)"], window_start: ["封闭开始", "Window start"],
  window_end: ["封闭结束", "Window end"], window_label: ["名称", "Window label"],
  window_n: ["第{n}期", "Window {n}"], window_k_start: ["第{n}期开始", "Window {n} start"],
  window_k_end: ["第{n}期结束", "Window {n} end"], add_window: ["添加时段", "Add window"], remove: ["删除", "Remove"],
  pauses: ["暂停（本路段）", "Pauses (this closure)"], pause_start: ["暂停开始", "Pause start"],
  pause_end: ["暂停结束", "Pause end"], pause_reason: ["原因", "Reason"], add_pause: ["添加暂停", "Add pause"],
  hours: ["每周施工时间", "Weekly hours"], hours_days: ["星期", "Days"], hours_start: ["开始时间", "Hours start"],
  hours_end: ["结束时间", "Hours end"], add_hours: ["添加时间", "Add hours"], next_day: ["次日", "next day"],
  days: [["一", "二", "三", "四", "五", "六", "日"], ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]],
  dates: ["实际日期", "Actual dates"], actual_start: ["实际开工", "Actual start"], actual_end: ["实际通车", "Actual end"],
  publish_at: ["草稿，直到（发布时间）", "Draft until (publish at)"],
  blank_hint: ["留空：另行通知", "blank: until further notice"],
  line: ["路线", "Line"], draw_line: ["画线", "Draw line"], finish_line: ["完成画线", "Finish line"],
  undo_point: ["删除最后一点", "Remove last point"], clear_line: ["清除路线", "Clear line"],
  coordinates: ["坐标（每行：经度,纬度；空行分段）", "Coordinates (one lon,lat a line; blank line between parts)"],
  length: ["长度", "Length"], parts: ["段", "parts"], drawing_help: ["在地图上点击添加点；拖动点可移动，点击点可删除。",
    "Click the map to add points; drag a point to move it, click it to remove it."],
  snapped: ["已对齐到相邻路段端点", "snapped to a neighbouring closure's end"],
  save: ["保存", "Save"], publish: ["发布", "Publish"], reopen: ["恢复通行", "Reopen"],
  reopen_at: ["恢复通行时间（留空为现在）", "Reopen at (blank: now)"],
  works_started: ["已开工", "Works started"], started_at: ["开工时间（留空为现在）", "Started at (blank: now)"],
  started_done: ["已记录开工", "Start recorded"],
  extend_end: ["延长结束日期", "Extend end"], new_end: ["新的结束日期", "New end"],
  cancel_closure: ["取消封闭", "Cancel closure"], duplicate: ["复制为下一期", "Duplicate"],
  actions: ["常用操作", "Actions"], saved: ["已保存", "Saved"], published: ["已发布", "Published"],
  reopened: ["已记录恢复通行", "Reopening recorded"], cancelled_done: ["已取消", "Cancelled"],
  fix_errors: ["请更正标出的错误", "Please correct the marked fields"],
  preview: ["预览", "Preview"], preview_title: ["未来几个月（居民看到的）", "The coming months (as residents see it)"],
  see_on: ["查看日期", "See it on"], residents_see: ["居民在该日看到：", "Residents see on that day: "],
  history: ["历史记录", "History"], version: ["版本", "Version"], by: ["操作人", "By"], when: ["时间", "When"],
  restore: ["恢复为新版本", "Restore as new version"], changed: ["修改", "Changes"],
  action_create: ["创建", "created"], action_update: ["修改", "changed"], action_reopen: ["恢复通行", "reopened"],
  action_delete: ["删除", "deleted"],
  conflict_title: ["别人已先保存了此路段", "Someone else saved this closure first"],
  conflict_help: ["请逐项选择保留哪个值，然后保存合并结果。", "Choose which value to keep for each field, then save the merge."],
  field: ["字段", "Field"], mine: ["我的", "Mine"], theirs: ["已保存的", "Theirs (saved)"],
  save_merge: ["保存合并结果", "Save merge"],
  import_title: ["导入 GeoJSON", "Import GeoJSON"], import_file: ["GeoJSON 文件（FeatureCollection）", "GeoJSON file (FeatureCollection)"],
  import_go: ["导入", "Import"], import_all_or_nothing: ["全部成功才导入；有错误则一条也不导入。", "All or nothing: one error and nothing is imported."],
  imported: ["已导入 {n} 条", "Imported {n} closures"], feature_n: ["第 {n} 条", "Feature {n}"],
  not_json: ["文件不是有效的 JSON", "The file is not valid JSON"],
  choose_project: ["请选择工程", "Choose a project"], none_yet: ["还没有封闭路段。", "No closures yet."],
  // residents' reports: the bureau's queue
  nav_reports: ["居民报告", "Reports"], reports_title: ["居民报告", "Residents' reports"],
  report_title: ["居民报告", "Report"], back_queue: ["返回报告列表", "Back to reports"],
  state: ["处理状态", "State"], state_open: ["待处理（新的和已受理）", "Open (new and acknowledged)"],
  state_new: ["新报告", "new"], state_acknowledged: ["已受理", "acknowledged"], state_resolved: ["已解决", "resolved"],
  state_rejected: ["不予处理", "rejected"], grouped: ["同一路段合并显示", "One row per group"],
  kind: ["类型", "Kind"], text: ["内容", "Text"], received: ["收到时间", "Received"], group: ["同类报告", "Group"],
  group_size: ["{n} 份", "{n} reports"], group_open: ["其中 {n} 份待处理", "{n} open"],
  "kind_closed-but-no-works": ["封闭了但没有施工", "Closed but no works going on"],
  "kind_open-but-shown-closed": ["已通车但地图显示封闭", "Open, but shown as closed"],
  "kind_detour-problem": ["绕行路线有问题", "Problem with the detour"],
  "kind_unsafe-site": ["工地不安全", "Unsafe site"], "kind_noise-or-hours": ["噪音或施工时间", "Noise or working hours"],
  kind_other: ["其他", "Other"],
  no_closure: ["（未指明路段）", "(no closure named)"], no_contact: ["未留联系方式", "none given"],
  contact_erased: ["已按规定删除", "erased (kept 180 days after closing)"],
  reply_short: ["答复", "Reply"], contact_given: ["已留", "given"],
  reply: ["公开答复（居民可见）", "Public reply (the resident sees it)"],
  acknowledge: ["受理", "Acknowledge"], resolve: ["已解决", "Resolve"], reject: ["不予处理", "Reject"],
  save_reply: ["只保存答复", "Save reply only"], answered: ["已更新报告", "Report updated"],
  stale_report: ["别人已先处理了此报告，已重新载入。", "Someone else answered this report first; reloaded."],
  no_reports: ["没有符合条件的报告。", "No reports match."], more: ["更多", "More"], total: ["共 {n} 份", "{n} in all"],
  open_report: ["查看", "Open"], where: ["位置", "Where"],
  action_created: ["收到", "filed"], action_acknowledged: ["受理", "acknowledged"], action_resolved: ["解决", "resolved"],
  action_rejected: ["不予处理", "rejected"], action_replied: ["答复", "replied"],
  "action_contact-erased": ["删除联系方式", "contact erased"],
  back: ["返回总览", "Back to overview"], cancelled_field: ["已取消", "Cancelled"], open: ["通行", "open"], schedule: ["时间安排", "Schedule"],
};

export const lang = new URLSearchParams(location.search).get("lang") === "en" ? "en" : "zh";

export function t(key, vars = {}) {
  const pair = WORDS[key];
  let text = pair ? pair[lang === "en" ? 1 : 0] : key;
  if (typeof text === "string") {
    for (const [name, value] of Object.entries(vars)) text = text.replace(`{${name}}`, value);
  }
  return text;
}

export function translatePage() {
  document.documentElement.lang = lang === "en" ? "en" : "zh-CN";
  document.title = t("title");
  for (const node of document.querySelectorAll("[data-t]")) node.textContent = t(node.dataset.t);
  const other = document.getElementById("lang");
  const url = new URL(location.href);
  if (lang === "en") { url.searchParams.delete("lang"); other.textContent = "中文"; }
  else { url.searchParams.set("lang", "en"); other.textContent = "English"; }
  other.href = url.pathname + url.search + url.hash;
}
