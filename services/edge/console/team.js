// A supervisor's view of their teams: each agent with their state and time in it, a control
// to force a state with a reason; the calls waiting for an agent, each of which can be pulled
// to an available agent or sent to another queue (skills and language); and the calls of their
// agents, which they can listen to, whisper to or barge into from their softphone. The API
// decides reach: a supervisor sees their teams' agents.

import * as api from "./api.js";
import * as live from "./live.js";
import { h, fill, elapsed, category, verb } from "./dom.js";
import { t, LANGUAGES } from "./i18n.js";

const CHOICES = ["available", "break", "away", "offline"];
const MODES = ["listen", "whisper", "barge"];

export class Team {
  constructor(section, context) {
    this.section = section;
    this.me = context.me;
    this.agents = [];
    this.waiting = [];
    this.connected = [];
    this.message = "";
    // What the supervisor has typed or chosen, per agent and per call: a redraw (events keep
    // coming) puts it back rather than clearing a form half filled in.
    this.drafts = new Map();
    live.onEvent((event) => {
      const kind = category(event);
      if (kind === "agent" || (kind === "call" && ["queued", "rerouted", "agent_assigned", "monitoring_changed", "ended", "canceled", "failed"].includes(verb(event)))) {
        clearTimeout(this.pending);
        this.pending = setTimeout(() => this.load(), 300);
      }
    });
    setInterval(() => {
      for (const cell of this.section.querySelectorAll("[data-since]")) cell.textContent = elapsed(cell.dataset.since);
    }, 1000);
  }

  // Only the latest load draws: an earlier, slower one would put back what has changed since.
  async load() {
    const generation = (this.generation = (this.generation || 0) + 1);
    const [agents, calls] = await Promise.all([
      api.get("/agents?page_size=200"),
      api.get("/calls?status=answered&page_size=200"),
    ]);
    if (generation !== this.generation) return;
    this.agents = agents.data;
    // Answered inbound calls nobody is on: the ones waiting in a queue.
    this.waiting = calls.data.filter((c) => c.direction === "inbound" && !c.agent_id);
    // Answered calls with one of my agents on them.
    const mine = new Set(this.agents.map((a) => a.id));
    this.connected = calls.data.filter((c) => c.agent_id && mine.has(c.agent_id));
    this.render();
  }

  async act(action) {
    // The button pressed is done with: what the action changes may be drawn.
    if (this.section.contains(document.activeElement)) document.activeElement.blur();
    this.message = "";
    try {
      await action();
    } catch (error) {
      this.message = t("failed", { reason: error.message });
    }
    await this.load();
  }

  // Not while the supervisor is in one of the forms (the redraw would take their focus), nor on
  // one of its buttons (a redraw between pressing and releasing it would swallow the click):
  // once they leave it. A button's action lets go of it first (see `act`).
  render() {
    const active = document.activeElement;
    if (active && this.section.contains(active) && ["INPUT", "SELECT", "TEXTAREA", "BUTTON"].includes(active.tagName)) {
      if (!this.deferred) {
        this.deferred = true;
        this.section.addEventListener("focusout", () => {
          this.deferred = false;
          setTimeout(() => this.render(), 0);
        }, { once: true });
      }
      return;
    }
    const available = this.agents.filter((a) => a.status === "available");
    fill(this.section,
      h("h2", { id: "team-title" }, t("team_title")),
      h("p", { class: "error", role: "alert" }, this.message),
      h("div", { class: "grid" },
        h("section", { class: "panel", "aria-labelledby": "team-agents" },
          h("h3", { id: "team-agents" }, t("agents")),
          this.agents.length
            ? h("table", {},
                h("thead", {}, h("tr", {}, [t("agent"), t("state"), t("time_in_state"), t("force_state")].map((c) => h("th", { scope: "col" }, c)))),
                h("tbody", {}, this.agents.map((a) => this.agentRow(a))))
            : h("p", { class: "empty" }, t("none"))),
        h("section", { class: "panel", "aria-labelledby": "team-waiting" },
          h("h3", { id: "team-waiting" }, t("waiting_calls")),
          this.waiting.length
            ? h("ul", {}, this.waiting.map((c) => this.waitingCall(c, available)))
            : h("p", { class: "empty" }, t("none"))),
        h("section", { class: "panel", id: "team-calls", "aria-labelledby": "team-calls-title" },
          h("h3", { id: "team-calls-title" }, t("agents_calls")),
          this.connected.length
            ? h("ul", {}, this.connected.map((c) => this.connectedCall(c)))
            : h("p", { class: "empty" }, t("none")))));
  }

  // A call of one of my agents: how I am on it, and the buttons to listen, whisper, barge in or
  // leave. A call on the simulated carrier carries no audio, which is said.
  connectedCall(call) {
    const agent = this.agents.find((a) => a.id === call.agent_id);
    const mode = call.monitors.find((m) => m.supervisor_id === this.me.user_id)?.mode;
    const monitor = (wanted) => this.act(() => api.post(`/calls/${call.id}/monitor`, { mode: wanted }));
    return h("li", { "data-call": call.id, "data-mode": mode || "" },
      `${call.from || call.to} — ${agent?.name || t("no_agent")} `,
      mode ? h("strong", { class: "monitoring" }, t(`mode_${mode}`)) : null, " ",
      h("span", { class: "controls", role: "group", "aria-label": t("monitor") },
        ...MODES.map((m) => h("button", { type: "button", class: `monitor-${m}`, "aria-pressed": String(mode === m), onclick: () => monitor(m) }, t(m))),
        mode ? h("button", { type: "button", class: "monitor-stop secondary", onclick: () => monitor("stopped") }, t("leave")) : null),
      call.carrier === "simulated" && mode ? h("p", { class: "hint" }, t("no_audio")) : null);
  }

  // The draft of a form, and a handler that keeps a field of it.
  draft(key, initial) {
    if (!this.drafts.has(key)) this.drafts.set(key, initial);
    const draft = this.drafts.get(key);
    return [draft, (field) => (e) => { draft[field] = e.target.value; }];
  }

  agentRow(agent) {
    const [draft, keep] = this.draft(`agent:${agent.id}`, { state: CHOICES[0], reason: "" });
    const state = h("select", { "aria-label": `${t("state")} — ${agent.name}`, onchange: keep("state") },
      CHOICES.map((s) => h("option", { value: s, selected: s === draft.state }, t(`s_${s}`))));
    const reason = h("input", { "aria-label": `${t("reason")} — ${agent.name}`, pattern: "[a-z0-9_]{1,50}", size: 12, placeholder: "coaching", value: draft.reason, oninput: keep("reason") });
    return h("tr", { "data-agent": agent.id },
      h("th", { scope: "row" }, agent.name),
      h("td", { class: `state state-${agent.status}` }, t(`s_${agent.status}`)),
      h("td", { "data-since": agent.status_since }, agent.status_since ? elapsed(agent.status_since) : ""),
      h("td", { class: "controls" }, state, " ", reason, " ",
        h("button", { type: "button", onclick: () => this.act(async () => {
          await api.post(`/agents/${agent.id}/forced-status`, { status: state.value, reason: reason.value });
          this.drafts.delete(`agent:${agent.id}`);
        }) }, t("force_state"))));
  }

  waitingCall(call, available) {
    const to = h("select", { class: "pull-to", "aria-label": t("pull_to") }, available.map((a) => h("option", { value: a.id }, a.name)));
    return h("li", { "data-call": call.id },
      h("span", { "data-since": call.answered_at }, call.answered_at ? elapsed(call.answered_at) : ""),
      ` ${call.from || "—"} → ${call.to} (${LANGUAGES[call.language] || call.language}) `,
      available.length
        ? h("span", {}, h("label", {}, `${t("pull_to")} `, to), " ",
            h("button", { type: "button", class: "pull", onclick: () => this.act(() => api.post(`/calls/${call.id}/pull`, { agent_id: to.value })) }, t("pull")))
        : null,
      this.rerouteForm(call));
  }

  // Another queue for the call: the skills its agent must have (comma-separated), the language.
  rerouteForm(call) {
    const [draft, keep] = this.draft(`call:${call.id}`, { skills: "", language: call.language, reason: "" });
    const skills = h("input", { class: "reroute-skills", "aria-label": t("skills"), size: 14, placeholder: "billing, vip", value: draft.skills, oninput: keep("skills") });
    const language = h("select", { class: "reroute-language", "aria-label": t("language"), onchange: keep("language") },
      Object.entries(LANGUAGES).map(([code, name]) => h("option", { value: code, selected: code === draft.language }, name)));
    const reason = h("input", { class: "reroute-reason", "aria-label": t("reason"), pattern: "[a-z0-9_]{1,50}", size: 12, placeholder: "wrong_language", value: draft.reason, oninput: keep("reason") });
    const send = async () => {
      await api.post(`/calls/${call.id}/reroute`, {
        skills: skills.value.split(",").map((s) => s.trim()).filter(Boolean),
        language: language.value,
        reason: reason.value,
      });
      this.drafts.delete(`call:${call.id}`);
    };
    return h("div", { class: "controls" }, skills, " ", language, " ", reason, " ",
      h("button", { type: "button", class: "reroute", onclick: () => this.act(send) }, t("reroute")));
  }
}
