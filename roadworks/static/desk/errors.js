// API errors shown beside the field they name (data-path), the rest in a list at the top of the form.
import { t } from "./i18n.js";
import { el, flash } from "./util.js";

export function clearErrors(form) {
  for (const node of form.querySelectorAll(".error")) node.textContent = "";
  for (const node of form.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
  const box = form.querySelector(".form-errors");
  if (box) box.replaceChildren();
}

// `strip` is removed from each path first ("properties." for a closure Feature).
export function showErrors(form, error, strip = "") {
  clearErrors(form);
  const box = form.querySelector(".form-errors");
  const entries = Object.entries(error.errors || {});
  if (!entries.length) {
    box?.append(el("li", { text: error.message }));
    flash(error.message, "bad");
    return;
  }
  let first = null;
  for (const [rawPath, messages] of entries) {
    const path = rawPath.startsWith(strip) ? rawPath.slice(strip.length) : rawPath;
    const control = findControl(form, path);
    if (control) {
      control.setAttribute("aria-invalid", "true");
      document.getElementById(`${control.id}-error`).textContent = messages.join("; ");
      first = first || control;
    } else {
      box?.append(el("li", { text: `${rawPath}: ${messages.join("; ")}` }));
    }
  }
  flash(t("fix_errors"), "bad");
  (first || box)?.focus?.();
}

// The control for a path, or for its nearest named parent ("schedule.windows[0].end" then "schedule.windows[0]").
function findControl(form, path) {
  let current = path;
  while (current) {
    const found = form.querySelector(`[data-path="${CSS.escape(current)}"]`);
    if (found) return found;
    const cut = Math.max(current.lastIndexOf("."), current.lastIndexOf("["));
    if (cut <= 0) break;
    current = current.slice(0, cut);
  }
  return null;
}
