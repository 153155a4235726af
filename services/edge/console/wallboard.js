// The wallboard: queues with what waits now, service level and abandon gauges, agents by
// state with their time in it, active calls with their callers' mood, campaign progress and
// alerts. Read once from the API, then kept current from the live feed (comms.metrics.updated,
// agent, call, transcript and campaign events) without reloading. Changing figures are
// announced politely, alerts assertively.

import * as api from "./api.js";
import * as live from "./live.js";
import { h, fill, elapsed, duration, verb, category } from "./dom.js";
import { t, number } from "./i18n.js";

const FINAL = ["ended", "failed", "no_answer", "busy", "canceled"];
const AGENT_STATES = ["available", "reserved", "busy", "wrap_up", "break", "away", "offline"];
const LONG_WAIT_SECONDS = 60;
const SERVICE_LEVEL_GOAL = 0.8;

/// The REST queue measures in the shape of comms.metrics.updated's data.
function fromMeasures(report) {
  const figures = (series) => ({
    waiting: series.now.calls,
    longest_wait_seconds: Math.round(series.now.longest_wait_seconds),
    offered: series.total.offered,
    answered: series.total.answered,
    abandoned: series.total.abandoned,
    service_level: series.total.service_level ?? undefined,
    abandon_rate: series.total.abandon_rate ?? undefined,
    average_speed_of_answer_seconds: series.total.average_speed_of_answer_seconds ?? undefined,
  });
  return {
    queues: report.queues.map((q) => ({ skills: q.skills, language: q.language, ...figures(q) })),
    organization: figures(report.organization),
    occupancy: report.organization.total.occupancy ?? undefined,
    agents: report.agents_now,
  };
}

export function queueName(queue) {
  const skills = queue.skills.length ? queue.skills.join(" + ") : t("any_skill");
  return `${skills} · ${queue.language.toUpperCase()}`;
}

const percent = (ratio) => (ratio === undefined ? "—" : `${number(ratio * 100)}%`);

export class Wallboard {
  constructor(section, context) {
    this.section = section;
    this.context = context;
    this.figures = null;
    this.agents = new Map();
    this.calls = new Map();
    this.campaigns = [];
    live.onEvent((event) => this.follow(event));
    setInterval(() => this.tick(), 1000);
  }

  async load() {
    const quarter = new Date(Math.floor(Date.now() / 900000) * 900000).toISOString();
    const [measures, agents, calls, campaigns] = await Promise.all([
      api.get(`/analytics/queues?interval=15m&from=${encodeURIComponent(quarter)}`),
      api.get("/agents?page_size=200"),
      api.get("/calls?status=initiated,ringing,answered&page_size=200"),
      api.get("/analytics/campaigns"),
    ]);
    this.figures = fromMeasures(measures);
    for (const a of agents.data) {
      this.agents.set(a.id, { name: a.name, status: a.status, since: a.status_since, call: a.call_id });
    }
    for (const c of calls.data) this.calls.set(c.id, { ...c, since: c.answered_at || c.created_at });
    this.campaigns = campaigns.data;
    this.render();
    // How the callers already on a call sound now; the live feed says when it changes.
    const answered = calls.data.filter((c) => c.status === "answered").map((c) => c.id);
    if (answered.length) {
      const moods = await api.get(`/transcripts/sentiment?call_ids=${answered.join(",")}`);
      for (const m of moods.data) {
        const call = this.calls.get(m.call_id);
        if (call && !call.mood) call.mood = m.label;
      }
      this.render();
    }
  }

  follow(event) {
    const data = event.data;
    switch (category(event)) {
      case "metrics":
        this.figures = data;
        break;
      case "agent": {
        const kind = verb(event);
        const agent = this.agents.get(data.agent_id) || { name: "", status: "offline", since: data.at };
        if (kind === "created") {
          this.agents.set(data.agent_id, { name: data.name, status: "offline", since: data.created_at });
        } else if (kind === "updated" && data.name) {
          this.agents.set(data.agent_id, { ...agent, name: data.name });
        } else if (AGENT_STATES.includes(kind)) {
          this.agents.set(data.agent_id, { ...agent, status: kind, since: data.at, call: data.call_id });
        }
        break;
      }
      case "call": {
        const kind = verb(event);
        if (kind === "started") {
          this.calls.set(data.call_id, { id: data.call_id, direction: data.direction, to: data.to, from: data.from,
                                          status: "initiated", since: data.started_at, agent_id: data.agent_id });
        }
        const call = this.calls.get(data.call_id);
        if (!call) break;
        if (kind === "ringing") call.status = "ringing";
        if (kind === "answered") Object.assign(call, { status: "answered", since: data.answered_at });
        if (kind === "agent_assigned") call.agent_id = data.agent_id;
        if (kind === "ended") call.status = "ended";
        if (kind === "failed") call.status = data.outcome;
        if (kind === "canceled") call.status = "canceled";
        // The transcription service's judgement of the caller, as it changes.
        if (kind === "sentiment") call.mood = data.label;
        if (kind === "transcript_deleted") call.mood = undefined;
        if (FINAL.includes(call.status)) {
          // Seen ending, then gone.
          setTimeout(() => { this.calls.delete(data.call_id); this.render(); }, 10000);
        }
        break;
      }
      case "campaign":
        clearTimeout(this.campaignRefresh);
        this.campaignRefresh = setTimeout(async () => {
          this.campaigns = (await api.get("/analytics/campaigns")).data;
          this.render();
        }, 1000);
        return;
      default:
        return;
    }
    this.render();
  }

  /// Times in state and of calls move every second; nothing else is redrawn.
  tick() {
    for (const cell of this.section.querySelectorAll("[data-since]")) {
      cell.textContent = elapsed(cell.dataset.since);
    }
  }

  /// An answered inbound call nobody is on yet waits in a queue.
  waits(call) {
    return call.status === "answered" && call.direction === "inbound" && !call.agent_id;
  }

  /// Calls going on whose caller is upset now.
  upset() {
    return [...this.calls.values()].filter((c) => c.mood === "negative" && !FINAL.includes(c.status));
  }

  alerts() {
    const found = [];
    for (const queue of this.figures?.queues || []) {
      if (queue.waiting > 0 && queue.longest_wait_seconds >= LONG_WAIT_SECONDS) {
        found.push(t("alert_long_wait", { seconds: number(queue.longest_wait_seconds), queue: queueName(queue) }));
      }
    }
    for (const call of this.upset()) {
      const agent = this.agents.get(call.agent_id)?.name || t("no_agent");
      const number = call.direction === "inbound" ? call.from || "—" : call.to;
      found.push(t("alert_upset", { number, agent }));
    }
    const level = this.figures?.organization.service_level;
    if (level !== undefined && level < SERVICE_LEVEL_GOAL) {
      found.push(t("alert_service_level", { percent: number(level * 100) }));
    }
    return found;
  }

  render() {
    const org = this.figures?.organization;
    const figure = (label, value, id) => h("div", { class: "figure" }, h("b", { id }, value), h("span", {}, label));
    const gauge = (label, ratio, id) => h("label", {},
      h("span", {}, `${label}: `), h("strong", { id }, percent(ratio)),
      h("meter", { min: 0, max: 1, low: 0.5, high: 0.8, optimum: id === "abandon" ? 0 : 1, value: ratio ?? 0,
                   "aria-label": label }));
    const queueRows = (this.figures?.queues || []).map((q) => h("tr", {},
      h("th", { scope: "row" }, queueName(q)), h("td", {}, number(q.waiting)),
      h("td", {}, duration(q.longest_wait_seconds)), h("td", {}, number(q.offered)),
      h("td", {}, number(q.answered)), h("td", {}, number(q.abandoned)), h("td", {}, percent(q.service_level))));
    const agents = [...this.agents.entries()]
      .filter(([, a]) => a.status !== "offline")
      .sort(([, a], [, b]) => AGENT_STATES.indexOf(a.status) - AGENT_STATES.indexOf(b.status) || a.name.localeCompare(b.name));
    const calls = [...this.calls.values()].sort((a, b) => String(a.since).localeCompare(String(b.since)));
    const alerts = this.alerts();
    fill(this.section,
      h("h2", { id: "wallboard-title" }, t("wallboard")),
      h("div", { class: "grid" },
        h("section", { class: "panel wide", "aria-labelledby": "wb-now" },
          h("h3", { id: "wb-now" }, `${t("queues")} — ${t("this_quarter_hour")}`),
          h("div", { class: "figures", "aria-live": "polite" },
            figure(t("waiting"), number(org?.waiting ?? 0), "waiting"),
            figure(t("longest_wait"), duration(org?.longest_wait_seconds ?? 0), "longest-wait"),
            figure(t("offered"), number(org?.offered ?? 0), "offered"),
            figure(t("answered"), number(org?.answered ?? 0), "answered"),
            figure(t("abandoned"), number(org?.abandoned ?? 0), "abandoned"),
            figure(t("upset_callers"), number(this.upset().length), "upset")),
          gauge(t("service_level"), org?.service_level, "service-level"),
          gauge(t("abandon_rate"), org?.abandon_rate, "abandon"),
          h("p", {}, `${t("average_speed_of_answer")}: `,
            org?.average_speed_of_answer_seconds === undefined ? "—" : t("seconds", { n: number(org.average_speed_of_answer_seconds) }),
            ` · ${t("occupancy")}: ${percent(this.figures?.occupancy)}`),
          queueRows.length
            ? h("table", {}, h("thead", {}, h("tr", {}, [t("queue"), t("waiting"), t("longest_wait"), t("offered"), t("answered"), t("abandoned"), t("service_level")].map((c) => h("th", { scope: "col" }, c)))), h("tbody", {}, queueRows))
            : h("p", { class: "empty" }, t("none"))),
        h("section", { class: "panel", "aria-labelledby": "wb-alerts" },
          h("h3", { id: "wb-alerts" }, t("alerts")),
          h("ul", { class: "alerts", role: "alert", "aria-live": "assertive" },
            alerts.length ? alerts.map((a) => h("li", {}, a)) : h("li", { class: "empty" }, t("no_alerts")))),
        h("section", { class: "panel", "aria-labelledby": "wb-agents" },
          h("h3", { id: "wb-agents" }, t("agents")),
          agents.length
            ? h("table", { id: "agents" },
                h("thead", {}, h("tr", {}, [t("agent"), t("state"), t("time_in_state")].map((c) => h("th", { scope: "col" }, c)))),
                h("tbody", { "aria-live": "polite" }, agents.map(([id, a]) => h("tr", { "data-agent": id },
                  h("th", { scope: "row" }, a.name),
                  h("td", { class: `state state-${a.status}` }, t(`s_${a.status}`)),
                  h("td", { "data-since": a.since }, a.since ? elapsed(a.since) : "")))))
            : h("p", { class: "empty" }, t("none"))),
        h("section", { class: "panel wide", "aria-labelledby": "wb-calls" },
          h("h3", { id: "wb-calls" }, t("active_calls")),
          calls.length
            ? h("table", { id: "calls" },
                h("thead", {}, h("tr", {}, [t("number"), t("direction"), t("state"), t("mood"), t("since")].map((c) => h("th", { scope: "col" }, c)))),
                h("tbody", { "aria-live": "polite" }, calls.map((c) => h("tr", { "data-call": c.id, "data-status": c.status },
                  h("th", { scope: "row" }, c.direction === "inbound" ? c.from || "—" : c.to),
                  h("td", {}, t(c.direction)),
                  h("td", { class: "call-status" }, this.waits(c) ? t("waiting") : t(`c_${c.status}`)),
                  h("td", { class: c.mood ? `mood mood-${c.mood}` : "mood", "data-mood": c.mood }, c.mood ? t(`m_${c.mood}`) : "—"),
                  h("td", { "data-since": c.since }, c.since ? elapsed(c.since) : "")))))
            : h("p", { class: "empty" }, t("none"))),
        h("section", { class: "panel", "aria-labelledby": "wb-campaigns" },
          h("h3", { id: "wb-campaigns" }, t("campaigns")),
          this.campaigns.length
            ? h("ul", {}, this.campaigns.map((c) => h("li", {},
                h("span", {}, `${c.name} (${c.status}) — ${number(c.contacts_final)} / ${number(c.contacts)} · ${t("abandon_rate")}: ${percent(c.abandon_rate)}`,
                  c.lines_per_agent === null ? "" : ` · ${t("pacing")}: ${number(c.lines_per_agent, 1)}`),
                h("progress", { max: Math.max(1, c.contacts), value: c.contacts_final, "aria-label": c.name }))))
            : h("p", { class: "empty" }, t("none")))));
  }
}
