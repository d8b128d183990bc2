// Import a GeoJSON FeatureCollection through POST /api/v1/import: all or nothing, errors listed by feature.
import { api, ApiError } from "./api.js";
import { t } from "./i18n.js";
import { el, field, flash } from "./util.js";

export async function showImport(view) {
  const file = el("input", { type: "file", accept: ".geojson,.json,application/geo+json,application/json" });
  const result = el("div", { id: "import-result", "aria-live": "polite" });
  const form = el("form", { class: "form", novalidate: true }, el("h2", { text: t("import_title") }),
    el("p", { text: t("import_all_or_nothing") }), field(t("import_file"), file, "file"),
    el("button", { type: "submit", class: "primary", text: t("import_go") }), result);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    result.replaceChildren();
    const chosen = file.files[0];
    if (!chosen) return;
    let collection;
    try { collection = JSON.parse(await chosen.text()); } catch { result.append(el("p", { class: "error", text: t("not_json") })); return; }
    try {
      const done = (await api.importFeatures(collection)).data;
      flash(t("imported", { n: done.features.length }));
      result.append(el("p", { text: t("imported", { n: done.features.length }) }), el("ul", {},
        ...done.features.map((f) => el("li", {}, el("a", { href: `#closure/${encodeURIComponent(f.id)}`, text: f.properties.road })))));
    } catch (error) {
      if (!(error instanceof ApiError) || error.status === 401) throw error;
      result.append(errorTable(error, collection));
      flash(t("fix_errors"), "bad");
    }
  });
  view.append(form);
}

// {"features[2].properties.road": [...]} -> a row per feature: its number, its road, each field and reason.
function errorTable(error, collection) {
  const byFeature = new Map();
  const general = [];
  for (const [path, messages] of Object.entries(error.errors)) {
    const match = path.match(/^features\[(\d+)\]\.?(.*)$/);
    if (!match) { general.push(`${path}: ${messages.join("; ")}`); continue; }
    const index = Number(match[1]);
    if (!byFeature.has(index)) byFeature.set(index, []);
    byFeature.get(index).push([match[2] || "—", messages.join("; ")]);
  }
  const features = collection?.features || [];
  return el("div", { class: "import-errors" }, el("p", { class: "error", text: error.message }),
    general.length ? el("ul", {}, ...general.map((g) => el("li", { text: g }))) : null,
    el("table", {}, el("thead", {}, el("tr", {}, ...[t("feature_n", { n: "#" }), t("road"), t("field"), ""].map((h) => el("th", { text: h })))),
      el("tbody", {}, ...[...byFeature.entries()].sort((a, b) => a[0] - b[0]).flatMap(([index, rows]) =>
        rows.map(([path, message], k) => el("tr", { dataset: { feature: index } },
          el("td", { text: k === 0 ? t("feature_n", { n: index + 1 }) : "" }),
          el("td", { text: k === 0 ? features[index]?.properties?.road || "" : "" }),
          el("td", { text: path }), el("td", { text: message })))))));
}
