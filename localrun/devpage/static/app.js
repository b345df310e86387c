// The local run's chat page (package wsapi/localrun/devpage). Plain
// JavaScript, no build step. Everything from the wire or the user is shown
// with textContent: the page's CSP requires Trusted Types, so innerHTML
// would throw.
"use strict";

const $ = (id) => document.getElementById(id);
const stateEl = $("state"), log = $("log"), loginError = $("login-error");
const nameIn = $("name"), toIn = $("to"), messageIn = $("message"), rawIn = $("raw");
const connectBtn = $("connect"), disconnectBtn = $("disconnect"), sendBtn = $("send");

let ws = null;
let me = "";

// Delivery is at least once (README, "The message protocol"): a message
// or a delivery report may come twice. The ids of recent frames, per type,
// drop repeats; the count of dropped ones is on #log's data-duplicates.
const SEEN_MAX = 1000;
const seen = new Set();
let duplicates = 0;

function repeated(type, id) {
  if (typeof id !== "string" || id === "") return false;
  const key = type + " " + id;
  if (seen.has(key)) {
    duplicates++;
    log.dataset.duplicates = String(duplicates);
    return true;
  }
  seen.add(key);
  if (seen.size > SEEN_MAX) seen.delete(seen.values().next().value); // the oldest
  return false;
}

// What was sent, in order, waiting for its reply (an ack or an error): the
// first waiting entry is taken as the one a reply answers. It is a hint for
// the log (a raw frame to a route that never replies shifts it), the ids
// are what count. An acked broadcast's entry is kept by id until its
// delivery report.
const awaitingReply = [];
const broadcasts = new Map(); // id → the sent entry
const shortID = (id) => String(id).slice(0, 8);

// What RFC 6455 and API Gateway's close codes mean, for the log.
const closeReasons = {
  1000: "normal closure",
  1001: "going away (the server stopped, or the idle or 2-hour limit)",
  1005: "no status",
  1006: "abnormal closure (no close frame; a refused handshake looks like this)",
  1008: "policy violation",
  1009: "message too big",
  1011: "server error",
  1012: "service restart",
};

function setState(state, detail) {
  stateEl.dataset.state = state;
  stateEl.textContent = detail ? state + " (" + detail + ")" : state;
  const open = state === "open";
  sendBtn.disabled = !open;
  disconnectBtn.disabled = !(open || state === "connecting");
  connectBtn.disabled = open || state === "connecting";
  nameIn.disabled = connectBtn.disabled;
}

// entry appends one log line: its type (a CSS hook and a test selector),
// a tag, the text, and data-* attributes; all set as text, never as HTML.
function entry(type, tag, text, data, when) {
  const li = document.createElement("li");
  li.dataset.type = type;
  for (const [k, v] of Object.entries(data || {})) li.dataset[k] = String(v);
  const time = document.createElement("span");
  time.className = "time";
  const d = when ? new Date(when) : new Date();
  time.textContent = isNaN(d) ? String(when) : d.toLocaleTimeString();
  const tagEl = document.createElement("span");
  tagEl.className = "tag";
  tagEl.textContent = tag;
  const textEl = document.createElement("span");
  textEl.className = "text";
  textEl.textContent = text;
  li.append(time, tagEl, textEl);
  log.append(li);
  li.scrollIntoView({ block: "nearest" });
  return li;
}

function showFrame(data) {
  let f;
  try {
    f = JSON.parse(data);
  } catch {
    entry("frame", "frame", String(data));
    return;
  }
  if (f === null || typeof f !== "object") {
    entry("frame", "frame", String(data));
    return;
  }
  switch (f.type) {
    case "message":
      if (repeated("message", f.id)) return;
      entry("message", "message", String(f.from) + ": " + String(f.message),
        { id: f.id, from: f.from, message: f.message, sentAt: f.sentAt }, f.sentAt);
      break;
    case "ack": {
      const sent = awaitingReply.shift();
      if (f.queued === true) {
        // A broadcast: queued; its delivery report comes later.
        entry("ack", "queued", "broadcast " + shortID(f.id) + " queued; delivery report to follow",
          { queued: true, id: f.id });
        if (sent) {
          sent.dataset.id = String(f.id);
          broadcasts.set(String(f.id), sent);
          if (broadcasts.size > SEEN_MAX) broadcasts.delete(broadcasts.keys().next().value);
        }
        break;
      }
      let text = "delivered " + f.delivered + ", stale " + f.stale;
      if (f.failed) text += ", failed " + f.failed;
      if (f.id !== undefined) text += " (message " + shortID(f.id) + ")";
      if (sent) sent.dataset.id = String(f.id);
      entry("ack", "ack", text, { id: f.id, delivered: f.delivered, stale: f.stale, failed: f.failed || 0 });
      break;
    }
    case "delivery": {
      if (repeated("delivery", f.id)) return;
      const counts = { delivered: f.delivered, stale: f.stale, failed: f.failed };
      const sent = broadcasts.get(String(f.id));
      broadcasts.delete(String(f.id));
      let text = "broadcast " + shortID(f.id) + ": delivered " + f.delivered + ", stale " + f.stale + ", failed " + f.failed;
      const data = { id: f.id, ...counts };
      if (sent) {
        text += " (" + JSON.stringify(sent.dataset.message || "") + ")";
        data.message = sent.dataset.message || "";
        Object.assign(sent.dataset, counts);
      }
      entry("delivery", "delivery", text, data);
      break;
    }
    case "error":
      awaitingReply.shift();
      entry("error", "error", String(f.code) + ": " + String(f.message), { code: f.code });
      break;
    default:
      entry("frame", "frame", String(data));
  }
}

async function getToken(name) {
  const res = await fetch("/dev/token", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ name }),
  });
  let body = null;
  try {
    body = await res.json();
  } catch {
    // not JSON: reported below
  }
  if (!res.ok || !body || typeof body.token !== "string") {
    const code = body && body.code ? body.code : "http_" + res.status;
    const message = body && body.message ? body.message : res.statusText;
    throw Object.assign(new Error(code + ": " + message), { code });
  }
  return body;
}

async function connect(ev) {
  ev.preventDefault();
  loginError.textContent = "";
  delete loginError.dataset.code;
  const name = nameIn.value.trim();
  setState("connecting", "token");
  let tok;
  try {
    tok = await getToken(name);
  } catch (err) {
    loginError.textContent = err.message;
    loginError.dataset.code = err.code || "";
    setState("disconnected");
    return;
  }
  me = tok.sub;
  setState("connecting", me);
  // Browsers cannot set headers on a WebSocket handshake: the token goes
  // in the query string, where the authorizer's identity source reads it.
  const socket = new WebSocket(tok.url + "?token=" + encodeURIComponent(tok.token));
  ws = socket;
  socket.onopen = () => {
    if (ws !== socket) return;
    setState("open", me);
    entry("state", "open", "connected as " + me + " to " + tok.url, { sub: me });
  };
  socket.onmessage = (m) => {
    if (ws === socket) showFrame(m.data);
  };
  socket.onclose = (c) => {
    if (ws !== socket) return;
    ws = null;
    // Replies to this connection's frames will not come any more.
    awaitingReply.length = 0;
    const why = closeReasons[c.code] || "";
    setState("closed", String(c.code));
    entry("close", "closed", "code " + c.code + (why ? " " + why : "") + (c.reason ? ": " + c.reason : ""),
      { code: c.code, reason: c.reason, clean: c.wasClean });
  };
}

function send(ev) {
  ev.preventDefault();
  if (!ws || ws.readyState !== WebSocket.OPEN) return;
  const text = messageIn.value;
  const to = toIn.value.trim();
  if (rawIn.checked) {
    ws.send(text);
    awaitingReply.push(entry("sent", "sent raw", text, { raw: true }));
  } else {
    const frame = { action: "sendmessage", message: text };
    if (to) frame.to = to;
    ws.send(JSON.stringify(frame));
    awaitingReply.push(entry("sent", "sent", "→ " + (to || "everyone") + ": " + text, { to: to, message: text }));
  }
  messageIn.value = "";
  messageIn.focus();
}

$("login").addEventListener("submit", connect);
$("compose").addEventListener("submit", send);
disconnectBtn.addEventListener("click", () => {
  if (ws) ws.close(1000, "bye");
});
setState("disconnected");
