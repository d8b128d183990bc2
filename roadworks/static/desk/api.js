// The same API curl uses: the session cookie goes along, with the CSRF token on every call.
let csrf = null;
export function setCsrf(token) { csrf = token; }

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
    this.errors = this.problem.errors || {};
  }
}

export async function call(method, path, body, headers = {}) {
  const sent = { Accept: "application/json", ...headers };
  if (csrf) sent["X-CSRFToken"] = csrf;
  const init = { method, headers: sent, credentials: "same-origin", cache: "no-store" };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    sent["Content-Type"] = sent["Content-Type"] || "application/json";
  }
  const response = await fetch(path, init);
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) throw new ApiError(response.status, data);
  return { data, etag: response.headers.get("ETag"), status: response.status };
}

export const api = {
  session: () => call("GET", "/desk/session"),
  signIn: (token) => call("POST", "/desk/session", { token }),
  signOut: () => call("DELETE", "/desk/session"),
  projects: () => call("GET", "/api/v1/projects"),
  project: (id) => call("GET", `/api/v1/projects/${encodeURIComponent(id)}`),
  createProject: (body) => call("POST", "/api/v1/projects", body),
  replaceProject: (id, body, etag) => call("PUT", `/api/v1/projects/${encodeURIComponent(id)}`, body, { "If-Match": etag }),
  closures: (query = "status=all&limit=500") => call("GET", `/api/v1/closures?${query}`),
  closure: (id) => call("GET", `/api/v1/closures/${encodeURIComponent(id)}`),
  createClosure: (feature) => call("POST", "/api/v1/closures", feature),
  replaceClosure: (id, feature, etag) => call("PUT", `/api/v1/closures/${encodeURIComponent(id)}`, feature, { "If-Match": etag }),
  patchClosure: (id, patch, etag) => call("PATCH", `/api/v1/closures/${encodeURIComponent(id)}`, patch,
    { "If-Match": etag, "Content-Type": "application/merge-patch+json" }),
  reopen: (id, at) => call("POST", `/api/v1/closures/${encodeURIComponent(id)}/reopen`, at ? { at } : {}),
  history: (id) => call("GET", `/api/v1/closures/${encodeURIComponent(id)}/history`),
  preview: (body) => call("POST", "/api/v1/schedule/preview", body),
  importFeatures: (collection) => call("POST", "/api/v1/import", collection),
  config: () => call("GET", "/desk/config.json"),
  reports: (query = "") => call("GET", `/api/v1/reports${query ? `?${query}` : ""}`),
  report: (id) => call("GET", `/api/v1/reports/${encodeURIComponent(id)}`),
  answerReport: (id, body, etag) => call("PATCH", `/api/v1/reports/${encodeURIComponent(id)}`, body, { "If-Match": etag }),
};
