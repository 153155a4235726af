// The console's shell: language, login, and the views the user's role may see (a wallboard
// and team view for supervisors and administrators, the desk for agents), switched by the
// address's #fragment. Every view reads the REST API once and then follows the live feed.

import * as api from "./api.js";
import * as live from "./live.js";
import { LANGUAGES, pick, setLanguage, t } from "./i18n.js";
import { Wallboard } from "./wallboard.js";
import { Desk } from "./desk.js";
import { Team } from "./team.js";

const $ = (selector) => document.querySelector(selector);
const views = {};
let me = null;

function chooseLanguage(profile) {
  const asked = new URLSearchParams(location.search).get("lang");
  const code = pick([asked, profile, ...(navigator.languages || [navigator.language])].filter(Boolean));
  setLanguage(code);
  $("#language").value = code;
  for (const view of Object.values(views)) view.render();
}

function fillLanguages() {
  for (const [code, name] of Object.entries(LANGUAGES)) {
    const option = document.createElement("option");
    option.value = code;
    option.textContent = name;
    option.lang = code;
    $("#language").append(option);
  }
  $("#language").addEventListener("change", (e) => {
    const url = new URL(location.href);
    url.searchParams.set("lang", e.target.value);
    history.replaceState(null, "", url);
    chooseLanguage();
  });
}

function showLogin() {
  live.stop();
  me = null;
  for (const id of ["wallboard", "desk", "team"]) $(`#${id}`).hidden = true;
  $("#views").hidden = true;
  $("#logout").hidden = true;
  $("#connection").textContent = "";
  $("#login").hidden = false;
  $("#login-form [name=email]").focus();
}

async function signedIn() {
  me = await api.get("/auth/me");
  $("#login").hidden = true;
  $("#logout").hidden = false;
  const can = (permission) => me.permissions.includes(permission);
  // Wallboard and team need the organization's figures; the desk is for whoever is an agent.
  const allowed = [];
  if (can("analytics:read")) allowed.push("wallboard");
  allowed.push("desk");
  if (can("agents:supervise")) allowed.push("team");
  for (const link of document.querySelectorAll("#views a")) {
    link.hidden = !allowed.includes(link.hash.slice(1));
  }
  $("#views").hidden = false;
  const context = { me };
  views.wallboard = allowed.includes("wallboard") ? new Wallboard($("#wallboard"), context) : null;
  views.desk = new Desk($("#desk"), context);
  views.team = allowed.includes("team") ? new Team($("#team"), context) : null;
  for (const key of Object.keys(views)) if (!views[key]) delete views[key];
  // Their own language, when they chose one; else the browser's.
  chooseLanguage(me.language);
  live.onStatus((up) => {
    $("#connection").textContent = up ? `● ${t("live")}` : t("reconnecting");
    $("#connection").classList.toggle("down", !up);
  });
  live.start();
  await Promise.all(Object.values(views).map((view) => view.load()));
  route(allowed);
  window.onhashchange = () => route(allowed);
}

function route(allowed) {
  const wanted = location.hash.slice(1);
  const shown = allowed.includes(wanted) ? wanted : allowed[0];
  for (const id of ["wallboard", "desk", "team"]) $(`#${id}`).hidden = id !== shown;
  for (const link of document.querySelectorAll("#views a")) {
    if (link.hash.slice(1) === shown) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

fillLanguages();
chooseLanguage();
api.whenSignedOut(showLogin);
$("#login-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const form = new FormData(e.target);
  $("#login-error").textContent = "";
  try {
    await api.logIn(form.get("email"), form.get("password"));
    await signedIn();
  } catch (error) {
    $("#login-error").textContent = error.status === 401 ? t("login_failed") : error.message;
  }
});
$("#logout").addEventListener("click", async () => {
  await api.logOut();
  // A fresh page: no view of the last user lingers.
  location.reload();
});
if (api.signedIn()) signedIn().catch(showLogin);
else showLogin();
