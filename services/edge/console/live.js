// The live feed (docs/live.md): a single-use ticket, then the socket. Events go to every
// listener in the log's order; a dropped socket is reopened after the last position seen, so
// nothing is missed or seen twice.

import { post } from "./api.js";

const listeners = new Set();
let socket = null;
let position = null;
let stopped = true;
let status = () => {};

export function onEvent(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/// `callback(connected)` whenever the socket opens or drops.
export function onStatus(callback) {
  status = callback;
}

export function start() {
  stopped = false;
  open(0);
}

export function stop() {
  stopped = true;
  position = null;
  socket?.close(1000);
  socket = null;
}

async function open(failures) {
  if (stopped) return;
  let ticket;
  try {
    ticket = (await post("/live/ticket")).ticket;
  } catch {
    return retry(failures);
  }
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const after = position ? `&after=${encodeURIComponent(position)}` : "";
  const url = `${scheme}://${location.host}/api/communications/live?ticket=${encodeURIComponent(ticket)}${after}`;
  socket = new WebSocket(url, ["comms.live.v1"]);
  socket.onopen = () => status(true);
  socket.onmessage = (message) => {
    const data = JSON.parse(message.data);
    if (data.position) position = data.position;
    if (data.type === "event") {
      for (const listener of listeners) listener(data.event);
    }
  };
  socket.onclose = (closed) => {
    status(false);
    socket = null;
    // 4008: we fell behind; the resume reads the log from where we were.
    if (!stopped && closed.code !== 1000) retry(failures);
  };
}

function retry(failures) {
  const delay = Math.min(30000, 500 * 2 ** failures);
  setTimeout(() => open(failures + 1), delay);
}
