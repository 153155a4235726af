// The agent's desk: my state (and what comes after this call), my current call with the
// contact's number and agent assist (the caller's mood, suggestions of my next answer, the
// summary, which fills the notes and disposition at wrap-up), the disposition and notes at
// wrap-up, and a preview campaign's next contact to call or skip. Followed from the live feed
// (my agent's and my calls' events) and my call's assist stream.

import * as api from "./api.js";
import * as live from "./live.js";
import { h, fill, elapsed, category } from "./dom.js";
import { t } from "./i18n.js";

const CHOICES = ["available", "break", "away", "offline"];
const REASONS = ["lunch", "meeting", "training", "personal"];
const DISPOSITIONS = ["resolved", "callback", "escalated", "sale", "no_sale", "wrong_number"];

export class Desk {
  constructor(section, context) {
    this.section = section;
    this.me = context.me;
    this.agent = null;
    this.call = null;
    this.preview = null;
    this.message = "";
    // What the agent is writing at wrap-up, kept across redraws.
    this.draft = { call: null, disposition: "", notes: "" };
    this.drawn = null;
    this.loads = 0;
    // Agent assist on my current call: what its stream has said.
    this.assist = { call: null, mood: "", suggestion: "", notes: [], summary: null, stop: null };
    live.onEvent((event) => this.follow(event));
    setInterval(() => {
      for (const cell of this.section.querySelectorAll("[data-since]")) cell.textContent = elapsed(cell.dataset.since);
    }, 1000);
  }

  async load() {
    // Loads overlap (an event, a look again): only the latest one's answers are drawn, so a
    // slow earlier answer never puts back a state the agent has left.
    const generation = ++this.loads;
    const agent = this.me.agent_id ? await api.get(`/agents/${encodeURIComponent(this.me.agent_id)}`) : null;
    const { call, preview } = await this.callAndPreview(agent);
    if (generation !== this.loads) return;
    Object.assign(this, { agent, call, preview });
    this.followAssist();
    this.render();
    // Reserved for a preview, whose contact the campaign records a moment after reserving me
    // (campaign events are not on an agent's feed): look again shortly.
    clearTimeout(this.again);
    if (this.agent?.status === "reserved" && !this.preview && !this.call) {
      this.again = setTimeout(() => this.load(), 1000);
    }
  }

  async callAndPreview(agent) {
    // Among my calls: a call routed to me is mine once the calls service has recorded me on it
    // (its agent_assigned event, which reloads the desk); until then it is not listed.
    const id = agent?.call_id;
    const mine = id ? await api.get(`/calls?agent_id=${encodeURIComponent(agent.id)}&page_size=20`) : null;
    // A preview campaign reserves the agent it shows a contact to.
    const preview = ["available", "reserved"].includes(agent?.status)
      ? (await api.get("/previews")).preview
      : null;
    return { call: mine?.data.find((c) => c.id === id) || null, preview };
  }

  /// Opens my current call's assist stream (once per call; it ends with the summary).
  followAssist() {
    const id = this.call && ["answered", "ended"].includes(this.call.status) ? this.call.id : null;
    if (!id || this.assist.call === id) return;
    this.assist.stop?.abort();
    const stop = new AbortController();
    this.assist = { call: id, mood: "", suggestion: "", notes: [], summary: null, stop };
    const pieces = new Map();
    api.follow(`/calls/${id}/assist`, (name, data) => {
      if (this.assist.call !== id) return;
      if (name === "sentiment") this.assist.mood = data.label;
      if (name === "suggestion") {
        const text = data.abandoned ? "" : (pieces.get(data.number) || "") + data.text;
        pieces.set(data.number, text);
        this.assist.suggestion = text;
      }
      if (name === "snippet") this.assist.notes = [...this.assist.notes, data];
      if (name === "summary") this.assist.summary = data;
      this.render();
    }, stop.signal).catch(() => {}); // not transcribed, or the call left me: nothing to show
  }

  follow(event) {
    if (!this.agent) return;
    const data = event.data;
    // My agent's events (a preview reserves me first), and my call's.
    const mine = (category(event) === "agent" && data.agent_id === this.agent.id)
      || (category(event) === "call" && data.call_id && data.call_id === this.agent.call_id);
    if (mine) this.load();
  }

  async act(action) {
    this.message = "";
    this.failed = false;
    try {
      await action();
    } catch (error) {
      this.message = t("failed", { reason: error.message });
      this.failed = true;
    }
    await this.load();
  }

  setState(status, reason) {
    const body = ["break", "away"].includes(status) ? { status, reason } : { status };
    return this.act(() => api.put(`/agents/${this.agent.id}/status`, body));
  }

  render() {
    // Redrawn only when something shown changed, so a form being filled keeps its focus.
    const { mood, suggestion, notes, summary } = this.assist;
    const shown = JSON.stringify([this.agent, this.call, this.preview, this.message, this.failed,
      mood, suggestion, notes, summary, document.documentElement.lang]);
    if (shown === this.drawn) return;
    this.drawn = shown;
    if (!this.agent) {
      fill(this.section, h("h2", { id: "desk-title" }, t("desk_title")), h("p", {}, t("not_an_agent")));
      return;
    }
    // A redraw while the agent writes (assist's summary arriving at wrap-up) keeps their place.
    const focused = this.section.contains(document.activeElement) ? document.activeElement : null;
    const place = focused?.name ? { name: focused.name, start: focused.selectionStart, end: focused.selectionEnd } : null;
    this.draw();
    const again = place && this.section.querySelector(`[name="${place.name}"]`);
    if (again) {
      again.focus();
      if (place.start !== undefined && place.start !== null) again.setSelectionRange(place.start, place.end);
    }
  }

  draw() {
    const a = this.agent;
    const reason = h("select", { id: "reason", "aria-label": t("reason") }, REASONS.map((r) => h("option", { value: r }, r)));
    const stateButtons = CHOICES.map((status) => h("button", {
      type: "button", class: a.status === status ? "" : "secondary", "data-state": status,
      "aria-pressed": a.status === status ? "true" : "false",
      onclick: () => this.setState(status, reason.value),
    }, t(`s_${status}`)));
    const call = this.call;
    const wrapping = a.status === "wrap_up" && call;
    fill(this.section,
      h("h2", { id: "desk-title" }, t("desk_title"), ` — ${a.name}`),
      h("div", { class: "grid" },
        h("section", { class: "panel", "aria-labelledby": "desk-state" },
          h("h3", { id: "desk-state" }, t("my_state")),
          h("p", { "aria-live": "polite" },
            h("strong", { id: "my-state", class: `state state-${a.status}` }, t(`s_${a.status}`)),
            " ", h("span", { "data-since": a.status_since }, a.status_since ? elapsed(a.status_since) : "")),
          a.next_status ? h("p", {}, t("next_state", { state: t(`s_${a.next_status}`) })) : null,
          h("div", { class: "states", role: "group", "aria-label": t("set_state") }, stateButtons),
          h("label", {}, `${t("reason")} `, reason),
          h("p", { class: this.failed ? "error" : "note", role: "status", "aria-live": "polite", id: "desk-message" }, this.message)),
        h("section", { class: "panel", "aria-labelledby": "desk-call" },
          h("h3", { id: "desk-call" }, t("my_call")),
          call
            ? h("div", {},
                h("p", {}, `${t("caller")}: ${call.from || "—"} · ${t("called")}: ${call.to} · ${t(call.direction)} · ${t(`c_${call.status}`)}`),
                ["initiated", "ringing", "answered"].includes(call.status)
                  ? h("button", { type: "button", id: "hang-up", onclick: () => this.act(() => api.call("DELETE", `/calls/${call.id}`)) }, t("hang_up"))
                  : null,
                this.assistPanel(),
                wrapping ? this.wrapUpForm(call) : null)
            : h("p", { class: "empty" }, t("no_call"))),
        h("section", { class: "panel", "aria-labelledby": "desk-preview" },
          h("h3", { id: "desk-preview" }, t("preview")),
          this.preview
            ? h("div", {},
                h("p", {}, `${this.preview.contact.name} — ${(this.preview.contact.phones || []).join(", ")} (${this.preview.campaign_name})`),
                h("button", { type: "button", onclick: () => this.act(() => api.post(`/previews/${this.preview.call_id}/accept`)) }, t("call_contact")),
                " ",
                h("button", { type: "button", class: "secondary", onclick: () => this.act(() => api.post(`/previews/${this.preview.call_id}/skip`)) }, t("skip")))
            : h("p", { class: "empty" }, t("no_preview")))));
  }

  /// What assist said on my call: the caller's mood, the latest suggestion, the organization's
  /// notes the caller's words brought up (newest first), the summary.
  assistPanel() {
    const { call, mood, suggestion, notes, summary } = this.assist;
    if (call !== this.call?.id || (!mood && !suggestion && !notes.length && !summary)) return null;
    return h("div", { id: "assist", class: "assist", "aria-live": "polite" },
      mood ? h("p", {}, `${t("mood")}: `, h("strong", { id: "assist-mood", class: `mood mood-${mood}` }, t(`m_${mood}`))) : null,
      suggestion ? h("p", { id: "assist-suggestion" }, `${t("suggestion")}: ${suggestion}`) : null,
      notes.length ? h("section", { id: "assist-notes", "aria-label": t("notes_heard") },
        h("h3", {}, t("notes_heard")),
        ...[...notes].reverse().map((note) => h("article", { class: "knowledge", "data-note": note.note_id },
          h("h4", {}, note.title),
          h("p", { class: "heard" }, t("heard", { words: note.heard })),
          h("p", {}, note.body)))) : null,
      summary ? h("p", { id: "assist-summary" }, `${t("summary")}: ${summary.summary}`) : null);
  }

  wrapUpForm(call) {
    if (this.draft.call !== call.id) {
      this.draft = { call: call.id, disposition: call.disposition, notes: call.notes };
    }
    const draft = this.draft;
    // The summary, once written, is the notes' first draft and suggests the disposition.
    const summary = this.assist.call === call.id ? this.assist.summary : null;
    if (summary && !draft.summarized) {
      draft.summarized = true;
      if (!draft.notes) draft.notes = summary.summary;
      if (!draft.disposition && summary.suggested_disposition) draft.disposition = summary.suggested_disposition;
    }
    const disposition = h("select", { name: "disposition", onchange: (e) => { draft.disposition = e.target.value; } },
      h("option", { value: "" }, "—"),
      DISPOSITIONS.map((d) => h("option", { value: d, selected: draft.disposition === d }, d)));
    const notes = h("textarea", { name: "notes", rows: 3, maxlength: 10000, oninput: (e) => { draft.notes = e.target.value; } }, draft.notes);
    return h("form", {
      id: "wrap-up",
      onsubmit: (e) => {
        e.preventDefault();
        const body = { notes: notes.value };
        if (disposition.value) body.disposition = disposition.value;
        this.act(async () => {
          await api.put(`/calls/${call.id}`, body);
          this.message = t("saved");
        });
      },
    },
    h("label", {}, `${t("disposition")} `, disposition),
    h("label", {}, `${t("notes")} `, notes),
    h("button", { type: "submit" }, t("save")));
  }
}
