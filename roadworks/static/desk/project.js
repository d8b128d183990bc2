// A project: name, contact, reference, time zone and the pauses that apply to all its closures.
import { api, ApiError } from "./api.js";
import { clearErrors, showErrors } from "./errors.js";
import { t } from "./i18n.js";
import { spanList } from "./spans.js";
import { el, field, flash } from "./util.js";

export async function showProject(view, id, desk) {
  let project = { name: "", contact: "", reference: "", description: "", timezone: desk.config.timezone, pauses: [] };
  let etag = null;
  if (id) ({ data: project, etag } = await api.project(id));
  const name = el("input", { type: "text", value: project.name || "", required: true });
  const contact = el("input", { type: "text", value: project.contact || "" });
  const reference = el("input", { type: "text", value: project.reference || "" });
  const description = el("textarea", { rows: 2 });
  description.value = project.description || "";
  const timezone = el("input", { type: "text", value: project.timezone || desk.config.timezone });
  const pauses = spanList("pause", project.pauses || [], "pauses", () => {});
  const form = el("form", { class: "form", novalidate: true },
    el("h2", { text: `${t("project_title")}${project.name ? `：${project.name}` : ""}` }),
    el("ul", { class: "form-errors", tabindex: "-1" }),
    field(t("name"), name, "name"),
    el("p", { text: `${t("agency")}: ${project.agency || desk.me.agency || ""}` }),
    field(t("contact"), contact, "contact"), field(t("reference"), reference, "reference"),
    field(t("description"), description, "description"), field(t("timezone"), timezone, "timezone"),
    el("fieldset", {}, el("legend", { text: t("project_pauses") }), pauses),
    el("div", { class: "buttons" }, el("button", { type: "submit", class: "primary", text: t("save") }),
      el("a", { href: "#overview", text: t("back") })));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const body = { name: name.value.trim(), contact: contact.value.trim() || null,
      reference: reference.value.trim() || null, description: description.value.trim() || null,
      timezone: timezone.value.trim() || undefined, pauses: pauses.value() };
    try {
      const saved = id ? await api.replaceProject(id, body, etag) : await api.createProject(body);
      flash(t("saved"));
      if (id) { etag = saved.etag; } else { location.hash = `#project/${encodeURIComponent(saved.data.id)}`; }
    } catch (error) {
      if (!(error instanceof ApiError) || error.status === 401) throw error;
      showErrors(form, error);
    }
  });
  view.append(form);
  name.focus();
}
