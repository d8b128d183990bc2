// The desk's start: settings, sign-in, and the views chosen by the address's #fragment.
import { api, ApiError, setCsrf } from "./api.js";
import { t, translatePage } from "./i18n.js";
import { flash, learnServiceClock } from "./util.js";
import { showOverview } from "./overview.js";
import { showProject } from "./project.js";
import { showClosure } from "./closure.js";
import { showImport } from "./importer.js";
import { showReport, showReports } from "./reports.js";

export const desk = { config: null, me: null };

function busy(on) { document.body.dataset.busy = on ? "1" : "0"; }

async function route() {
  const view = document.getElementById("view");
  const [path, query] = (location.hash.slice(1) || "overview").split("?");
  const [name, id] = path.split("/");
  const params = new URLSearchParams(query || "");
  busy(true);
  view.replaceChildren();
  try {
    if (name === "project") await showProject(view, id === "new" ? null : decodeURIComponent(id), desk);
    else if (name === "closure") await showClosure(view, id === "new" ? null : decodeURIComponent(id), desk, params);
    else if (name === "import") await showImport(view, desk);
    else if (name === "reports") await showReports(view, desk, params);
    else if (name === "report") await showReport(view, decodeURIComponent(id), desk);
    else await showOverview(view, desk);
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return signedOut(t("session_ended"));
    flash(error.message, "bad");
  } finally {
    busy(false);
  }
}

function signedIn(me) {
  desk.me = me;
  setCsrf(me.csrf_token);
  document.getElementById("who").textContent = `${t("signed_in_as")}${me.name}${me.agency ? ` · ${me.agency}` : ""}`;
  document.getElementById("signin-view").hidden = true;
  for (const id of ["nav", "view", "sign-out"]) document.getElementById(id).hidden = false;
  route();
}

function signedOut(message) {
  desk.me = null;
  setCsrf(null);
  document.getElementById("who").textContent = "";
  for (const id of ["nav", "view", "sign-out"]) document.getElementById(id).hidden = true;
  document.getElementById("signin-view").hidden = false;
  document.getElementById("signin-error").textContent = message || "";
  document.getElementById("token").focus();
  busy(false);
}

async function start() {
  translatePage();
  const sent = Date.now();
  desk.config = (await api.config()).data;
  learnServiceClock(desk.config.now, sent, Date.now());
  document.getElementById("signin-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = document.getElementById("token");
    try {
      const me = (await api.signIn(input.value)).data;
      input.value = "";
      signedIn(me);
    } catch (error) {
      document.getElementById("signin-error").textContent = error.message;
    }
  });
  document.getElementById("sign-out").addEventListener("click", async () => {
    await api.signOut().catch(() => null);
    signedOut();
  });
  window.addEventListener("hashchange", () => desk.me && route());
  const me = (await api.session()).data;
  if (me.signed_in) signedIn(me); else signedOut();
}

start();
