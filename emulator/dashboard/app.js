// The emulator's dashboard. Plain JavaScript, no build step: the emulator serves this file as it is.
// Everything it shows comes from /_emulator/* on the same origin; it refreshes when the event stream
// (/_emulator/events) says requests were served or the fault settings changed.
"use strict";

const CHART_SECONDS = 300;
const STATUS_CLASSES = [
  { name: "2xx", test: (s) => s >= 200 && s < 300, color: "#3fb950" },
  { name: "3xx", test: (s) => s >= 300 && s < 400, color: "#58a6ff" },
  { name: "4xx", test: (s) => s >= 400 && s < 500, color: "#d29922" },
  { name: "5xx", test: (s) => s >= 500, color: "#f85149" },
  { name: "dropped", test: (s) => s === 0, color: "#bc8cff" },
];
// What each fault setting means; a setting the emulator adds later still shows, under its own name.
const FAULT_HINTS = {
  latencyMs: ["Latency", "ms before every answer"],
  connBandwidth: ["Bandwidth per connection", "bytes/s of request body (0: unlimited)"],
  linkBandwidth: ["Bandwidth of the link", "bytes/s shared by all connections (0: unlimited)"],
  uplinkBandwidth: ["Bandwidth per token", "bytes/s shared by each token's connections: a console's uplink (0: unlimited)"],
  retryAfterS: ["Retry-After", "seconds, sent on injected 429 and 503 (0: none)"],
  resetRate: ["Connection resets", "share of calls dropped halfway through the body"],
  stallRate: ["Stalls", "share of calls accepted and never answered"],
  frontRps: ["Front throttle", "calls per second of all tokens together above which 429 comes, without Retry-After (0: off)"],
  throttleRps: ["Throttle", "calls per second per token above which 429 comes, without Retry-After (0: off)"],
  dropAnswerRate: ["Lost answers", "share of calls carried out whose answer is lost"],
  expireTokensAfter: ["Tokens expire after", "calls per token, then 401 (0: never)"],
  uploadExpiryS: ["Upload expiry", "seconds to commit an upload, then 410 (0: never)"],
  quotaBytes: ["Quota", "bytes of clips per user (0: unlimited)"],
  blockAck: ["Block acknowledgement", "0: 202/201 as the protocol page says; 200: every block 200"],
  redirectBlocks: ["Redirect blocks", "status of a redirect for every block PUT (0: none)"],
};
const RATE_FIELDS = new Set(["resetRate", "stallRate", "dropAnswerRate"]);
const CHOICES = { blockAck: [0, 200], redirectBlocks: [0, 301, 302, 307, 308] };

const state = {
  clips: [],
  requests: [],
  faults: null,
  faultsDirty: false,
  seen: { requests: -1, faults: -1 },
  playing: null,
  mintedToken: null, // kept here, never written into the page
};

// ---- small helpers ------------------------------------------------------------------------------

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "style") Object.assign(node.style, value); // CSSOM: the page's CSP allows no inline styles
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function svg(tag, attrs) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
  return node;
}

function bytes(n) {
  if (n === null || n === undefined) return "–";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
  return `${i === 0 ? n : n.toFixed(n < 10 ? 2 : 1)} ${units[i]}`;
}

function when(ms) {
  return ms ? new Date(ms).toLocaleString() : "–";
}

function clock(ms) {
  const d = new Date(ms);
  return d.toLocaleTimeString([], { hour12: false }) + "." + String(d.getMilliseconds()).padStart(3, "0");
}

async function getJson(path) {
  const response = await fetch(path, { cache: "no-store" });
  if (!response.ok) throw new Error(`${path}: ${response.status}`);
  return response.json();
}

// Runs `task` at most once at a time; a call while it runs asks for one more run afterwards.
function coalesced(task) {
  let running = false, again = false;
  return async function run() {
    if (running) { again = true; return; }
    running = true;
    try { await task(); } catch (e) { console.warn(e); }
    running = false;
    if (again) { again = false; run(); }
  };
}

// ---- clips --------------------------------------------------------------------------------------

const refreshClips = coalesced(async () => {
  const data = await getJson("_emulator/clips");
  state.clips = data.clips;
  document.getElementById("clip-count").textContent =
    data.total > data.clips.length ? `(newest ${data.clips.length} of ${data.total})` : `(${data.total})`;
  fillFilter("owner-filter", data.clips.map((c) => c.owner));
  fillFilter("scid-filter", data.clips.map((c) => c.scid));
  renderClips();
  if (state.playing) renderPlayerMeta();
});

function fillFilter(id, values) {
  const select = document.getElementById(id);
  const known = new Set([...select.options].map((o) => o.value));
  for (const value of [...new Set(values)].sort()) {
    if (!known.has(value)) select.append(el("option", { value }, value));
  }
}

function shownState(clip) {
  return clip.service.state === "Flagged" ? "Flagged" : clip.state;
}

function renderClips() {
  const owner = document.getElementById("owner-filter").value;
  const scid = document.getElementById("scid-filter").value;
  const wanted = document.getElementById("state-filter").value;
  const clips = state.clips.filter((c) =>
    (!owner || c.owner === owner) && (!scid || c.scid === scid) && (!wanted || shownState(c) === wanted));
  const list = document.getElementById("clips");
  if (clips.length === 0) {
    list.replaceChildren(el("p", { class: "empty" },
      state.clips.length ? "No clip matches the filters." : "No clips yet. Upload one with upload_clip or through the library."));
    return;
  }
  list.replaceChildren(...clips.map(clipCard));
}

function clipCard(clip) {
  const s = clip.service;
  const status = shownState(clip);
  const thumb = s.thumbnails.length
    ? el("img", { src: `_emulator/clips/${clip.gameClipId}/thumbnails/${s.thumbnails.some((t) => t.thumbnailType === "Small") ? "small" : "large"}`, alt: "" })
    : el("div", { class: "no-thumb" }, "no thumbnail");
  const published = status === "Published";
  return el("article", { class: `clip state-${status}`, dataset: { clipId: clip.gameClipId } },
    el("div", { class: "thumb" }, thumb,
      published ? el("button", { type: "button", class: "play", title: "Play", onclick: () => play(clip.gameClipId) }, "▶ Play") : null),
    el("div", { class: "clip-body" },
      el("div", { class: "clip-title" },
        el("span", { class: `badge state`, "data-state": status }, status),
        el("strong", { class: "caption" }, s.userCaption || "(no caption)")),
      el("dl", { class: "facts" },
        fact("size", bytes(clip.fileSize)),
        fact("rating", s.ratingCount ? `${s.rating.toFixed(1)} ★ (${s.ratingCount})` : "none"),
        fact("views", s.views),
        fact("visibility", s.visibility),
        fact("owner", clip.owner),
        fact("title", clip.scid),
        fact("recorded", s.dateRecorded),
        fact("created", when(clip.createdAtMs)),
        fact("committed", when(clip.committedAtMs)),
        fact("id", clip.gameClipId)),
      blockGrid(clip),
      clip.sha256 ? el("p", { class: "sha" }, "sha256 ", el("code", {}, clip.sha256)) : null,
      clip.error ? el("p", { class: "error" }, clip.error) : null));
}

function fact(name, value) {
  return el("div", {}, el("dt", {}, name), el("dd", {}, value === undefined || value === null ? "–" : value));
}

function blockGrid(clip) {
  const counts = clip.blockReceiveCounts;
  const resent = counts.filter((n) => n > 1).length;
  const summary = `${clip.receivedBlocks} of ${clip.expectedBlocks} blocks` +
    (clip.blockSize ? ` of ${bytes(clip.blockSize)}` : "") + (resent ? `, ${resent} resent` : "");
  return el("div", { class: "blocks" },
    el("div", { class: "muted" }, summary),
    el("div", { class: "grid" }, counts.map((n, i) =>
      el("span", { class: `cell c${Math.min(n, 2)}`, title: `block ${i}: arrived ${n} time${n === 1 ? "" : "s"}` }, n > 1 ? n : ""))));
}

// ---- player -------------------------------------------------------------------------------------

function play(clipId) {
  state.playing = clipId;
  const video = document.getElementById("video");
  video.src = `_emulator/clips/${clipId}/video`;
  document.getElementById("player").hidden = false;
  renderPlayerMeta();
  video.play().catch(() => { /* the user presses play */ });
  document.getElementById("player").scrollIntoView({ behavior: "smooth", block: "nearest" });
}

function renderPlayerMeta() {
  const clip = state.clips.find((c) => c.gameClipId === state.playing);
  if (!clip) return;
  document.getElementById("player-title").textContent = clip.service.userCaption || clip.gameClipId;
  document.getElementById("player-meta").replaceChildren(
    fact("duration", `${clip.service.durationInSeconds} s`),
    fact("size", bytes(clip.fileSize)),
    fact("type", clip.service.type),
    fact("title data", clip.service.titleData || "–"),
    fact("sha256", clip.sha256));
}

function closePlayer() {
  const video = document.getElementById("video");
  video.pause();
  video.removeAttribute("src");
  video.load();
  state.playing = null;
  document.getElementById("player").hidden = true;
}

// ---- requests and summary -----------------------------------------------------------------------

const refreshRequests = coalesced(async () => {
  state.requests = await getJson("_emulator/requests");
  renderRequests();
});

function renderRequests() {
  const filter = document.getElementById("request-filter").value.trim().toLowerCase();
  const problemsOnly = document.getElementById("request-problems").checked;
  const rows = [];
  for (let i = state.requests.length - 1; i >= 0; i--) {
    const r = state.requests[i];
    if (problemsOnly && !r.fault && r.status > 0 && r.status < 400) continue;
    if (filter && !`${r.method} ${r.path} ${r.status} ${r.fault || ""}`.toLowerCase().includes(filter)) continue;
    rows.push(el("tr", { class: r.fault ? "faulted" : r.status === 0 || r.status >= 400 ? "failed" : null },
      el("td", {}, clock(r.atMs)), el("td", {}, r.method), el("td", { class: "path" }, r.path),
      el("td", { class: "status" }, r.status === 0 ? "no answer" : r.status), el("td", {}, r.durationMs),
      el("td", {}, bytes(r.bytes)), el("td", { class: "fault" }, r.fault || ""), el("td", {}, el("code", {}, r.token || ""))));
  }
  document.querySelector("#requests tbody").replaceChildren(...rows);
  document.getElementById("request-count").textContent = `(last ${state.requests.length}, newest first)`;
}

const refreshSummary = coalesced(async () => {
  const stats = await getJson("_emulator/stats");
  let calls = 0;
  for (const [endpoint, statuses] of Object.entries(stats.requests)) {
    if (endpoint.startsWith("admin") || endpoint === "dashboard") continue;
    for (const n of Object.values(statuses)) calls += n;
  }
  document.getElementById("summary").replaceChildren(
    fact("service calls", calls), fact("body bytes", bytes(stats.bodyBytesReceived)),
    fact("open connections", stats.openConnections), fact("connections", stats.connectionsAccepted));
});

// ---- charts -------------------------------------------------------------------------------------

const refreshCharts = coalesced(async () => {
  const timeline = await getJson("_emulator/timeline");
  const start = timeline.nowS - CHART_SECONDS + 1;
  const seconds = new Array(CHART_SECONDS).fill(null).map(() => ({ bytes: 0, statuses: {} }));
  for (const s of timeline.seconds) {
    if (s.atS >= start) seconds[s.atS - start] = s;
  }
  drawBytes(seconds);
  drawStatuses(seconds);
});

function drawBytes(seconds) {
  const chart = document.getElementById("bytes-chart");
  const max = Math.max(1, ...seconds.map((s) => s.bytes));
  const x = (i) => (i / (CHART_SECONDS - 1)) * 600;
  const y = (v) => 118 - (v / max) * 110;
  let path = `M0,118`;
  seconds.forEach((s, i) => { path += ` L${x(i).toFixed(1)},${y(s.bytes).toFixed(1)}`; });
  path += ` L600,118 Z`;
  chart.replaceChildren(svg("path", { d: path, fill: "rgba(88,166,255,0.35)", stroke: "#58a6ff", "stroke-width": "1" }));
  document.getElementById("bytes-max").textContent = `(peak ${bytes(max === 1 ? 0 : max)}/s)`;
}

function drawStatuses(seconds) {
  const chart = document.getElementById("status-chart");
  const perSecond = seconds.map((s) => {
    const byClass = STATUS_CLASSES.map(() => 0);
    for (const [status, n] of Object.entries(s.statuses)) {
      const k = STATUS_CLASSES.findIndex((c) => c.test(Number(status)));
      if (k >= 0) byClass[k] += n;
    }
    return byClass;
  });
  const max = Math.max(1, ...perSecond.map((b) => b.reduce((a, n) => a + n, 0)));
  const width = 600 / CHART_SECONDS;
  const bars = [];
  const totals = STATUS_CLASSES.map(() => 0);
  perSecond.forEach((byClass, i) => {
    let top = 118;
    byClass.forEach((n, k) => {
      if (!n) return;
      totals[k] += n;
      const h = (n / max) * 110;
      top -= h;
      bars.push(svg("rect", { x: (i * width).toFixed(2), y: top.toFixed(2), width: width.toFixed(2), height: h.toFixed(2), fill: STATUS_CLASSES[k].color }));
    });
  });
  chart.replaceChildren(...bars);
  document.getElementById("status-legend").replaceChildren(...STATUS_CLASSES.map((c, k) =>
    el("span", { class: "key" }, el("span", { class: "swatch", style: { background: c.color } }), `${c.name} ${totals[k]}`)));
}

// ---- faults -------------------------------------------------------------------------------------

const refreshFaults = coalesced(async () => {
  const faults = await getJson("_emulator/faults");
  const first = state.faults === null;
  const changed = JSON.stringify(faults) !== JSON.stringify(state.faults);
  state.faults = faults;
  if (!changed) return; // the change this page applied, coming back: the form already shows it
  const note = document.getElementById("faults-note");
  if (state.faultsDirty) {
    note.textContent = "changed elsewhere; Discard edits shows the new settings";
    return;
  }
  renderFaults(faults);
  if (!first) note.textContent = `changed elsewhere at ${clock(Date.now())}`;
});

function renderFaults(faults) {
  // Known settings in a sensible order, then any the page does not know yet.
  const keys = [...Object.keys(FAULT_HINTS), ...Object.keys(faults).sort()]
    .filter((k, i, all) => k in faults && k !== "failRate" && all.indexOf(k) === i);
  const fields = keys.map((key) => {
    const [label, hint] = FAULT_HINTS[key] || [key, ""];
    let input;
    if (CHOICES[key]) {
      const options = CHOICES[key].includes(faults[key]) ? CHOICES[key] : [...CHOICES[key], faults[key]];
      input = el("select", { name: key }, options.map((v) => el("option", { value: v, selected: v === faults[key] }, v)));
    } else {
      const rate = RATE_FIELDS.has(key);
      input = el("input", { name: key, type: "number", min: 0, max: rate ? 1 : null, step: rate ? "0.01" : "1", value: faults[key] });
    }
    return el("label", { class: "field" }, el("span", {}, label), input, el("small", { class: "muted" }, hint));
  });
  document.getElementById("fault-fields").replaceChildren(...fields);
  const rates = document.getElementById("fail-rates");
  rates.replaceChildren(...Object.entries(faults.failRate || {}).map(([status, rate]) => failRateRow(status, rate)));
  state.faultsDirty = false;
}

function failRateRow(status, rate) {
  const row = el("div", { class: "fail-rate-row" },
    el("label", {}, "status ", el("input", { name: "status", type: "number", min: 100, max: 599, value: status, required: true })),
    el("label", {}, "share ", el("input", { name: "rate", type: "number", min: 0, max: 1, step: "0.01", value: rate, required: true })),
    el("button", { type: "button", class: "remove", title: "Remove", onclick: () => { row.remove(); markDirty(); } }, "✕"));
  return row;
}

function markDirty() {
  state.faultsDirty = true;
  document.getElementById("faults-note").textContent = "edited, not applied";
}

function readFaultsForm() {
  const faults = {};
  for (const input of document.querySelectorAll("#fault-fields [name]")) {
    faults[input.name] = Number(input.value) || 0;
  }
  faults.failRate = {};
  for (const row of document.querySelectorAll(".fail-rate-row")) {
    const status = row.querySelector("[name=status]").value;
    const rate = Number(row.querySelector("[name=rate]").value) || 0;
    if (status) faults.failRate[status] = rate;
  }
  return faults;
}

async function applyFaults(faults) {
  const note = document.getElementById("faults-note");
  const response = await fetch("_emulator/faults", {
    method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify(faults),
  });
  if (!response.ok) {
    note.textContent = `refused: ${(await response.json()).message || response.status}`;
    return;
  }
  state.faults = await response.json();
  renderFaults(state.faults);
  note.textContent = `applied at ${clock(Date.now())}`;
  document.getElementById("faults-section").dataset.applied = String(Date.now());
}

// ---- tokens -------------------------------------------------------------------------------------

async function mint(form) {
  const data = new FormData(form);
  const response = await fetch("_emulator/tokens", {
    method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ xuid: data.get("xuid"), deviceType: data.get("deviceType"), expiresInSeconds: Number(data.get("expiresInSeconds")) }),
  });
  const body = await response.json();
  const minted = document.getElementById("minted");
  minted.hidden = false;
  if (!response.ok) {
    state.mintedToken = null;
    document.getElementById("minted-fingerprint").textContent = "–";
    document.getElementById("minted-claims").replaceChildren(fact("refused", body.message || response.status));
    return;
  }
  state.mintedToken = body.token;
  document.getElementById("minted-fingerprint").textContent = body.fingerprint;
  document.getElementById("copy-status").textContent = "";
  const claims = body.claims;
  document.getElementById("minted-claims").replaceChildren(
    fact("xuid", claims.xuid), fact("device", claims.deviceType), fact("title id", claims.titleId),
    fact("sandbox", claims.sandboxId), fact("expires", claims.exp ? when(claims.exp * 1000) : "never"));
}

async function copyToken() {
  const status = document.getElementById("copy-status");
  if (!state.mintedToken) return;
  try {
    await navigator.clipboard.writeText(state.mintedToken);
    status.textContent = "copied";
  } catch {
    // Clipboard access needs a secure context or permission; fall back to a selection copy that
    // never leaves the value in the page.
    const area = el("textarea", { class: "offscreen" }, state.mintedToken);
    document.body.append(area);
    area.select();
    const ok = document.execCommand("copy");
    area.remove();
    status.textContent = ok ? "copied" : "the browser refused the clipboard";
  }
}

// ---- wiring -------------------------------------------------------------------------------------

function refreshAll() {
  refreshClips();
  refreshRequests();
  refreshSummary();
  refreshCharts();
}

function listen() {
  const live = document.getElementById("live");
  const events = new EventSource("_emulator/events");
  events.addEventListener("change", (event) => {
    const seen = JSON.parse(event.data);
    if (seen.requests !== state.seen.requests) refreshAll();
    if (seen.faults !== state.seen.faults) refreshFaults();
    state.seen = seen;
  });
  events.onopen = () => { live.textContent = "live"; live.className = "live on"; };
  events.onerror = () => { live.textContent = "reconnecting…"; live.className = "live off"; };
}

document.addEventListener("DOMContentLoaded", () => {
  for (const id of ["owner-filter", "scid-filter", "state-filter"]) {
    document.getElementById(id).addEventListener("change", renderClips);
  }
  document.getElementById("request-filter").addEventListener("input", renderRequests);
  document.getElementById("request-problems").addEventListener("change", renderRequests);
  document.getElementById("close-player").addEventListener("click", closePlayer);
  const faultsForm = document.getElementById("faults-form");
  faultsForm.addEventListener("input", markDirty);
  faultsForm.addEventListener("submit", (event) => { event.preventDefault(); applyFaults(readFaultsForm()); });
  document.getElementById("add-fail-rate").addEventListener("click", () => {
    document.getElementById("fail-rates").append(failRateRow(503, 0.1));
    markDirty();
  });
  document.getElementById("clear-faults").addEventListener("click", () => applyFaults({}));
  document.getElementById("reload-faults").addEventListener("click", () => {
    renderFaults(state.faults);
    document.getElementById("faults-note").textContent = "";
  });
  document.getElementById("token-form").addEventListener("submit", (event) => { event.preventDefault(); mint(event.target); });
  document.getElementById("copy-token").addEventListener("click", copyToken);

  listen();
  refreshAll();
  refreshFaults();
  // Charts scroll and processing clips become Published with no request served: refresh on a clock too.
  setInterval(() => {
    refreshCharts();
    if (state.clips.some((c) => c.state === "Uploaded" || c.state === "Processing")) refreshClips();
  }, 1000);
});
