// A few lines of DOM building, so views read as what they draw.

/// An element: `h("td", { class: "state" }, "busy")`. Attributes starting with `on` are
/// listeners; text children are set as text, never parsed as HTML.
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/// Replaces `parent`'s children.
export function fill(parent, ...children) {
  parent.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
}

/// Seconds from `since` (an RFC 3339 time) to now, as m:ss or h:mm:ss.
export function elapsed(since) {
  const seconds = Math.max(0, Math.floor((Date.now() - Date.parse(since)) / 1000));
  return duration(seconds);
}

export function duration(seconds) {
  const s = Math.floor(seconds % 60).toString().padStart(2, "0");
  const m = Math.floor((seconds / 60) % 60);
  const hours = Math.floor(seconds / 3600);
  return hours ? `${hours}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}

/// The part of an event type after `comms.<category>.`.
export function verb(event) {
  return event.type.split(".").slice(2).join(".");
}

export function category(event) {
  return event.type.split(".")[1];
}
