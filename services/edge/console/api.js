// The REST API, as the signed-in user. Tokens live in this tab's sessionStorage only; a 401
// tries the refresh token once, then sends the user back to the login.

const BASE = "/api/communications";
const KEY = "comms.console.tokens";

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

let onSignedOut = () => {};

export function whenSignedOut(callback) {
  onSignedOut = callback;
}

function tokens() {
  try {
    return JSON.parse(sessionStorage.getItem(KEY));
  } catch {
    return null;
  }
}

export function signedIn() {
  return Boolean(tokens()?.access_token);
}

export async function logIn(email, password) {
  const response = await fetch(`${BASE}/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email, password }),
  });
  if (!response.ok) throw new ApiError(response.status, await problemOf(response));
  sessionStorage.setItem(KEY, JSON.stringify(await response.json()));
}

export async function logOut() {
  const refresh = tokens()?.refresh_token;
  sessionStorage.removeItem(KEY);
  if (refresh) {
    await fetch(`${BASE}/auth/logout`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ refresh_token: refresh }),
    }).catch(() => {});
  }
}

async function refresh() {
  const current = tokens();
  if (!current?.refresh_token) return false;
  const response = await fetch(`${BASE}/auth/refresh`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ refresh_token: current.refresh_token }),
  });
  if (!response.ok) return false;
  sessionStorage.setItem(KEY, JSON.stringify(await response.json()));
  return true;
}

async function problemOf(response) {
  try {
    return await response.json();
  } catch {
    return null;
  }
}

/// `method` on `path` (under /api/communications) with `body` as JSON; the answer's JSON.
export async function call(method, path, body) {
  for (let attempt = 0; attempt < 2; attempt++) {
    const headers = { authorization: `Bearer ${tokens()?.access_token}` };
    if (body !== undefined) headers["content-type"] = "application/json";
    const response = await fetch(`${BASE}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (response.status === 401 && attempt === 0 && (await refresh())) continue;
    if (response.status === 401) {
      sessionStorage.removeItem(KEY);
      onSignedOut();
    }
    if (!response.ok) throw new ApiError(response.status, await problemOf(response));
    return response.status === 204 ? null : response.json();
  }
}

export const get = (path) => call("GET", path);
export const post = (path, body = {}) => call("POST", path, body);
export const put = (path, body) => call("PUT", path, body);

/// Follows the server-sent events of `path` (GET), calling `onEvent(name, data)` for each, until
/// the stream ends or `signal` aborts. EventSource cannot send the bearer token, so the body is
/// read as it arrives and split into events (blank-line separated `event:` and `data:` lines).
export async function follow(path, onEvent, signal) {
  const headers = { authorization: `Bearer ${tokens()?.access_token}`, accept: "text/event-stream" };
  const response = await fetch(`${BASE}${path}`, { headers, signal });
  if (!response.ok) throw new ApiError(response.status, await problemOf(response));
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let pending = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    pending += value;
    let end;
    while ((end = pending.indexOf("\n\n")) >= 0) {
      const block = pending.slice(0, end);
      pending = pending.slice(end + 2);
      let name = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) name = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (data.length) onEvent(name, JSON.parse(data.join("\n")));
    }
  }
}
