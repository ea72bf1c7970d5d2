// RegionChat web page: load an image, mark a region (box, polygon, brush), chat about it through the server's
// OpenAI-compatible endpoint (/v1/chat/completions, streamed as server-sent events). Plain JavaScript, no build step.
"use strict";

const $ = (id) => document.getElementById(id);
const ui = {
  models: $("models"), newSession: $("new-session"), session: $("session"),
  apiKey: $("api-key"), maxTokens: $("max-tokens"), temperature: $("temperature"), regionFormat: $("region-format"),
  answerFormat: $("answer-format"), choicesField: $("choices-field"), choices: $("choices"), patternField: $("pattern-field"),
  pattern: $("pattern"),
  imageInput: $("image-input"), stage: $("stage"), canvas: $("canvas"), dropHint: $("drop-hint"), imageInfo: $("image-info"),
  brushWidth: $("brush-width"), brushWidthValue: $("brush-width-value"), undo: $("undo-region"), clear: $("clear-region"),
  regionJson: $("region-json"), messages: $("messages"), error: $("error"), form: $("chat-form"), question: $("question"),
  send: $("send"), stop: $("stop"), usage: $("usage"), timings: $("timings"),
};

const state = {
  image: null,        // { dataUrl, element, width, height, name }
  imageVersion: 0,    // bumps on every new image, so a session knows when to send the image again
  parts: [],          // region parts in IMAGE pixels: {box:[x0,y0,x1,y1]} | {polygon:[x,y,…]} | {scribble:{points,width}}
  draft: null,        // the shape being drawn
  tool: "box",
  sessionId: "",
  sentKey: "",        // image version + region of the last turn the session received
  busy: null,         // AbortController of the running answer
};

// ---------- server calls ----------

function headers(json) {
  const h = {};
  if (json) h["Content-Type"] = "application/json";
  const key = ui.apiKey.value.trim();
  if (key) h["Authorization"] = "Bearer " + key;
  return h;
}

/** An HTTP error as one readable line, from OpenAI's {"error":{message,type,code}} shape when the server sent it. */
async function httpError(response) {
  let text = "";
  try { text = await response.text(); } catch { /* body unreadable */ }
  // A proxy's HTML error page (nginx's 502, 413) says nothing its status line does not.
  let message = (text.trimStart().startsWith("<") ? "" : text.trim()) || response.statusText || "request failed";
  try {
    const body = JSON.parse(text);
    if (body && body.error) message = describeError(body.error);
  } catch { /* not JSON */ }
  const error = new Error(`${response.status}: ${message}`);
  error.status = response.status;
  return error;
}

function describeError(e) {
  if (typeof e === "string") return e;
  let message = e.message || "error";
  if (e.param) message += ` (${e.param})`;
  if (e.code && e.code !== e.type) message += ` [${e.code}]`;
  return message;
}

async function loadModels() {
  try {
    const response = await fetch("v1/models", { headers: headers(false) });
    if (!response.ok) throw await httpError(response);
    const body = await response.json();
    const previous = ui.models.value;
    const models = body.data || [];
    ui.models.replaceChildren(...models.map((m) => {
      const option = new Option(m.id + (m.default ? " (default)" : ""), m.id);
      if (m.context_size) option.title = `context ${m.context_size} tokens, ${m.visual_tokens} visual tokens, ${m.image_size} px images`;
      return option;
    }));
    const chosen = models.some((m) => m.id === previous) ? previous : models.find((m) => m.default)?.id;
    if (chosen) ui.models.value = chosen;
    if (ui.models.options.length === 0) showError("The server lists no models.");
  } catch (e) {
    showError("Could not list the models: " + e.message + (e.status === 401 ? " — set the API key in Settings." : ""));
    if (e.status === 401) $("settings").open = true;
  }
}

/** Reads a server-sent-events body and calls onData for every "data:" payload up to "[DONE]"; a stream that ends
 *  without "[DONE]" was cut off. */
async function readEvents(response, onData) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    buffer += decoder.decode(value || new Uint8Array(), { stream: !done });
    let end;
    while ((end = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, end).replace(/\r$/, "");
      buffer = buffer.slice(end + 1);
      if (!line.startsWith("data:")) continue;
      const data = line.slice(5).trim();
      if (data === "[DONE]") return;
      if (data) onData(JSON.parse(data));
    }
    if (done) throw new Error("the answer stream ended early (connection lost?)");
  }
}

// ---------- chat ----------

function regionKey() {
  return state.imageVersion + ":" + JSON.stringify(state.parts) + ":" + ui.regionFormat.value;
}

async function send(event) {
  event?.preventDefault();
  finishPolygon(); // an open polygon counts as drawn
  const question = ui.question.value.trim();
  if (state.busy || !question) return;
  if (!state.image) { showError("Open an image first."); return; }
  const format = answerFormat();
  if (!format) {
    showError(ui.answerFormat.value === "regex" ? "Write the pattern in Settings." : "Write the answers to choose from in Settings, one per line.");
    return;
  }
  hideError();

  // A session already holds the image and region; send them again only when they changed.
  const content = [{ type: "text", text: question }];
  const key = regionKey();
  if (!state.sessionId || state.sentKey !== key) {
    const part = { type: "image_url", image_url: { url: state.image.dataUrl } };
    const region = await regionForRequest();
    if (region) part.region = region;
    content.push(part);
  }
  const body = {
    model: ui.models.value || undefined,
    messages: [{ role: "user", content }],
    stream: true,
    stream_options: { include_usage: true },
    temperature: Number(ui.temperature.value) || 0,
    max_tokens: Math.max(1, Number(ui.maxTokens.value) || 128),
    ...format,
  };
  if (state.sessionId) body.session_id = state.sessionId;

  addMessage("user", question, state.sentKey !== key && state.sessionId ? "new region" : "");
  ui.question.value = "";
  const answer = addMessage("assistant", "");
  answer.id = "answer";
  answer.dataset.state = "streaming";
  const text = answer.querySelector(".text");

  const controller = new AbortController();
  setBusy(controller);
  try {
    // The session id travels as a header too, so a load balancer keeps the conversation on one replica; a first turn
    // picks its session's id here, so that it is routed like the turns after it.
    const sent = headers(true);
    sent["x-regionchat-session"] = state.sessionId || newSessionId();
    const response = await postTurn(sent, body, controller.signal, answer);
    if (!response.ok) throw await httpError(response);
    let finish = "";
    await readEvents(response, (chunk) => {
      if (chunk.error) throw new Error(describeError(chunk.error));
      if (chunk.session_id && chunk.session_id !== state.sessionId) {
        state.sessionId = chunk.session_id;
        showSession();
      }
      const choice = chunk.choices && chunk.choices[0];
      if (choice?.delta?.content) {
        // Follow the answer only while the reader is at the end: one who scrolled up to read stays where they are.
        const following = ui.messages.scrollHeight - ui.messages.scrollTop - ui.messages.clientHeight < 40;
        // The first piece often starts with the tokenizer's word-boundary space.
        text.textContent += text.textContent ? choice.delta.content : choice.delta.content.trimStart();
        if (following) ui.messages.scrollTop = ui.messages.scrollHeight;
      }
      if (choice?.finish_reason) finish = choice.finish_reason;
      if (chunk.usage) showUsage(chunk.usage);
      if (chunk.timings) showTimings(chunk.timings);
    });
    state.sentKey = key;
    answer.dataset.state = "done";
    answer.dataset.finish = finish;
    if (finish && finish !== "stop") addNote(answer, finish === "length" ? "cut at max tokens" : finish);
  } catch (e) {
    if (controller.signal.aborted) {
      answer.dataset.state = "stopped";
      addNote(answer, "stopped");
    } else {
      answer.dataset.state = "error";
      addNote(answer, "failed");
      showError(e.message);
      if (!ui.question.value) ui.question.value = question; // the question is not lost: fix what failed and send it again
      // The server no longer knows this session (expired or evicted): the next turn starts a new one.
      if (e.status === 404 && body.session_id) resetSession();
    }
  } finally {
    setBusy(null);
    ui.question.focus();
  }
}

/** The answer's shape as request fields (OpenAI's JSON mode, vLLM's guided_choice and guided_regex); null when the
 * choices or the pattern are empty. */
function answerFormat() {
  if (ui.answerFormat.value === "json") return { response_format: { type: "json_object" } };
  if (ui.answerFormat.value === "regex") return ui.pattern.value ? { guided_regex: ui.pattern.value } : null;
  if (ui.answerFormat.value !== "choice") return {};
  const choices = ui.choices.value.split("\n").map((line) => line.trim()).filter((line) => line);
  return choices.length ? { guided_choice: choices } : null;
}

/** Posts a turn; a server that is busy (429 queue full, 503, 409 while the session finishes its previous turn) is asked
 * again after its Retry-After (at most 10 s), up to three times: none of these started the turn. Stop ends the wait. */
async function postTurn(sent, body, signal, answer) {
  for (let attempt = 1; ; attempt++) {
    const response = await fetch("v1/chat/completions", { method: "POST", headers: sent, body: JSON.stringify(body), signal });
    if (response.ok || attempt > 3 || !(await isBusy(response))) return response;
    const wait = Math.min(10, Number(response.headers.get("Retry-After")) || attempt);
    answer.dataset.retries = String(attempt);
    answer.querySelector(".text").textContent = `(server busy: asking again in ${wait} s)`;
    await new Promise((resolve, reject) => {
      const timer = setTimeout(resolve, wait * 1000);
      signal.addEventListener("abort", () => { clearTimeout(timer); reject(new DOMException("stopped", "AbortError")); }, { once: true });
    });
    answer.querySelector(".text").textContent = "";
  }
}

async function isBusy(response) {
  if (response.status === 429 || response.status === 503) return true;
  if (response.status !== 409) return false;
  try {
    const code = (await response.clone().json())?.error?.code;
    return code === "session_busy" || code === "session_leased";
  } catch { return false; }
}

function setBusy(controller) {
  state.busy = controller;
  // Screen readers announce the chat's new text once the answer is complete, not every piece of it.
  ui.messages.setAttribute("aria-busy", controller ? "true" : "false");
  ui.send.disabled = !!controller;
  ui.stop.disabled = !controller;
  document.body.classList.toggle("busy", !!controller);
}

function stop() {
  state.busy?.abort();
}

// "s-" and 32 hex digits, as the server makes them (getRandomValues works on plain http too, unlike randomUUID).
function newSessionId() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return "s-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function resetSession() {
  state.sessionId = "";
  state.sentKey = "";
  showSession();
}

function newSession() {
  stop();
  resetSession();
  ui.messages.replaceChildren();
  ui.usage.textContent = "–";
  ui.timings.textContent = "–";
  hideError();
  ui.question.focus();
}

function addMessage(role, text, note) {
  const div = document.createElement("div");
  div.className = "msg " + role;
  div.dataset.role = role;
  const body = document.createElement("div");
  body.className = "text";
  body.textContent = text;
  div.append(body);
  if (note) addNote(div, note);
  ui.messages.querySelector("#answer")?.removeAttribute("id");
  ui.messages.append(div);
  ui.messages.scrollTop = ui.messages.scrollHeight;
  return div;
}

function addNote(message, note) {
  const span = document.createElement("span");
  span.className = "note";
  span.textContent = note;
  message.append(span);
  ui.messages.scrollTop = ui.messages.scrollHeight;
}

function showSession() {
  ui.session.textContent = state.sessionId ? "session " + state.sessionId : "";
  ui.session.title = state.sessionId;
}

function showUsage(u) {
  const cached = u.prompt_tokens_details?.cached_tokens;
  ui.usage.textContent = `prompt ${u.prompt_tokens}` + (cached != null ? ` (cached ${cached})` : "") +
    (u.visual_tokens ? ` · visual ${u.visual_tokens}` : "") +
    ` · completion ${u.completion_tokens} · total ${u.total_tokens}`;
}

const timingLabels = { time_to_first_token_ms: "first token", decode_tokens_per_second: "decode" };

/** Timings come as {name_ms: milliseconds, name_per_second: rate, flag: boolean}; unknown fields are shown too. */
function showTimings(t) {
  const number = (v) => (v < 10 ? v.toFixed(1) : String(Math.round(v)));
  const parts = Object.entries(t).map(([name, value]) => {
    const label = timingLabels[name] || name.replace(/_ms$/, "").replace(/_/g, " ");
    if (typeof value === "boolean") return `${label}: ${value ? "yes" : "no"}`;
    if (typeof value !== "number") return `${label}: ${value}`;
    if (name.endsWith("_ms")) return `${label} ${number(value)} ms`;
    if (name === "decode_tokens_per_second") return `${label} ${number(value)} tok/s`;
    return `${label} ${number(value)}`;
  });
  ui.timings.textContent = parts.join(" · ") || "–";
}

function showError(message) {
  ui.error.textContent = message;
  ui.error.hidden = false;
  ui.messages.scrollTop = ui.messages.scrollHeight; // the list just got shorter
}

function hideError() {
  ui.error.hidden = true;
  ui.error.textContent = "";
}

// ---------- image ----------

const serverFormats = ["image/png", "image/jpeg", "image/webp", "image/bmp", "image/gif"];

function asPng(element) {
  const c = document.createElement("canvas");
  c.width = element.naturalWidth;
  c.height = element.naturalHeight;
  c.getContext("2d").drawImage(element, 0, 0);
  return c.toDataURL("image/png");
}

function openFile(file) {
  if (!file) return;
  if (!file.type.startsWith("image/")) { showError(`"${file.name}" is not an image.`); return; }
  const reader = new FileReader();
  reader.onerror = () => showError(`Could not read "${file.name}".`);
  reader.onload = () => {
    const element = new Image();
    element.onerror = () => showError(`The browser cannot decode "${file.name}".`);
    element.onload = () => {
      hideError();
      // The server reads PNG, JPEG, WebP, BMP and GIF: any other image the browser shows (AVIF, HEIC, SVG, …) goes as
      // PNG, drawn as the browser shows it.
      const dataUrl = serverFormats.includes(file.type) ? reader.result : asPng(element);
      state.image = { dataUrl, element, width: element.naturalWidth, height: element.naturalHeight, name: file.name };
      state.imageVersion++;
      state.parts = [];
      state.draft = null;
      const side = Math.min(element.naturalWidth, element.naturalHeight);
      ui.brushWidth.max = String(Math.max(4, Math.round(side / 4)));
      setBrushWidth(Math.max(1, Math.round(side / 16)));
      ui.imageInfo.textContent = `${file.name} · ${element.naturalWidth}×${element.naturalHeight} px`;
      ui.stage.classList.add("has-image");
      layoutCanvas();
      regionChanged();
    };
    element.src = reader.result;
  };
  reader.readAsDataURL(file);
}

function setBrushWidth(w) {
  ui.brushWidth.value = String(w);
  ui.brushWidthValue.textContent = ui.brushWidth.value;
}

// ---------- canvas: the image with the region drawn over it ----------

/** Image pixels → canvas backing-store pixels. */
function scale() {
  return ui.canvas.width / state.image.width;
}

function layoutCanvas() {
  if (!state.image) return;
  const { width, height } = state.image;
  const available = Math.max(160, ui.stage.clientWidth - 2);
  const fit = Math.min(available / width, Math.min(560, window.innerHeight * 0.7) / height);
  const cssW = Math.max(1, Math.round(width * fit)), cssH = Math.max(1, Math.round(height * fit));
  const dpr = window.devicePixelRatio || 1;
  ui.canvas.style.width = cssW + "px";
  ui.canvas.style.height = cssH + "px";
  ui.canvas.width = Math.round(cssW * dpr);
  ui.canvas.height = Math.round(cssH * dpr);
  draw();
}

function draw() {
  const ctx = ui.canvas.getContext("2d");
  ctx.clearRect(0, 0, ui.canvas.width, ui.canvas.height);
  if (!state.image) return;
  const s = scale();
  ctx.imageSmoothingEnabled = s < 2; // small images (the shapes world is 64×64) stay crisp when enlarged
  ctx.drawImage(state.image.element, 0, 0, ui.canvas.width, ui.canvas.height);
  const parts = state.draft ? [...state.parts, state.draft] : state.parts;
  if (parts.length === 0) return;

  // Dim everything outside the region, then outline each shape.
  const region = document.createElement("canvas");
  region.width = ui.canvas.width;
  region.height = ui.canvas.height;
  const rctx = region.getContext("2d");
  rctx.fillStyle = "rgba(0,0,0,0.45)";
  rctx.fillRect(0, 0, region.width, region.height);
  rctx.globalCompositeOperation = "destination-out";
  for (const part of parts) paintPart(rctx, part, s, "#000");
  ctx.drawImage(region, 0, 0);

  ctx.lineWidth = Math.max(1, 2 * (window.devicePixelRatio || 1));
  ctx.strokeStyle = "#ffcc00";
  for (const part of parts) outlinePart(ctx, part, s);
  if (state.draft?.polygon) { // the open polygon's vertices
    ctx.fillStyle = "#ffcc00";
    const p = state.draft.polygon;
    for (let i = 0; i < p.length; i += 2) ctx.fillRect(p[i] * s - 3, p[i + 1] * s - 3, 6, 6);
  }
}

/** Fills one region part; s maps image pixels to the target canvas. */
function paintPart(ctx, part, s, color) {
  ctx.fillStyle = color;
  ctx.strokeStyle = color;
  if (part.box) {
    const [x0, y0, x1, y1] = part.box;
    ctx.fillRect(x0 * s, y0 * s, (x1 - x0) * s, (y1 - y0) * s);
  } else if (part.polygon) {
    if (part.polygon.length < 6) return;
    tracePolygon(ctx, part.polygon, s);
    ctx.fill("evenodd");
  } else if (part.scribble) {
    const { points, width } = part.scribble;
    ctx.lineWidth = width * s;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.beginPath();
    ctx.moveTo(points[0] * s, points[1] * s);
    if (points.length === 2) ctx.lineTo(points[0] * s + 0.01, points[1] * s); // a dot
    for (let i = 2; i < points.length; i += 2) ctx.lineTo(points[i] * s, points[i + 1] * s);
    ctx.stroke();
  }
}

function outlinePart(ctx, part, s) {
  if (part.box) {
    const [x0, y0, x1, y1] = part.box;
    ctx.strokeRect(x0 * s, y0 * s, (x1 - x0) * s, (y1 - y0) * s);
  } else if (part.polygon) {
    tracePolygon(ctx, part.polygon, s);
    if (part !== state.draft) ctx.closePath();
    ctx.stroke();
  }
}

function tracePolygon(ctx, p, s) {
  ctx.beginPath();
  ctx.moveTo(p[0] * s, p[1] * s);
  for (let i = 2; i < p.length; i += 2) ctx.lineTo(p[i] * s, p[i + 1] * s);
}

/** A pointer position in IMAGE pixels (the canvas may be shown at any size). */
function imagePoint(e) {
  const r = ui.canvas.getBoundingClientRect();
  const x = (e.clientX - r.left) / r.width * state.image.width;
  const y = (e.clientY - r.top) / r.height * state.image.height;
  return [clamp(x, 0, state.image.width), clamp(y, 0, state.image.height)];
}

const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));
const round1 = (v) => Math.round(v * 10) / 10;

// ---------- drawing tools ----------

function selectTool(tool) {
  finishPolygon();
  state.tool = tool;
  for (const b of document.querySelectorAll(".tool")) b.setAttribute("aria-pressed", String(b.dataset.tool === tool));
  ui.canvas.dataset.tool = tool;
}

let dragStart = null;

function onPointerDown(e) {
  if (!state.image || e.button !== 0) return;
  const [x, y] = imagePoint(e);
  if (state.tool === "polygon") {
    const p = state.draft?.polygon;
    if (p && p.length >= 6 && nearFirstVertex(e, p)) { finishPolygon(); return; }
    if (!p) state.draft = { polygon: [] };
    const q = state.draft.polygon;
    // A double-click (which closes the polygon) also sends two clicks: do not add the same corner twice.
    if (q.length >= 2 && Math.hypot((x - q[q.length - 2]) * scale(), (y - q[q.length - 1]) * scale()) < 4) return;
    q.push(round1(x), round1(y));
    draw();
    return;
  }
  ui.canvas.setPointerCapture(e.pointerId);
  dragStart = [x, y];
  state.draft = state.tool === "box"
    ? { box: [x, y, x, y] }
    : { scribble: { points: [round1(x), round1(y)], width: Number(ui.brushWidth.value) } };
  draw();
}

function onPointerMove(e) {
  if (!dragStart || !state.draft) return;
  const [x, y] = imagePoint(e);
  if (state.draft.box) {
    state.draft.box = [dragStart[0], dragStart[1], x, y];
  } else if (state.draft.scribble) {
    const pts = state.draft.scribble.points;
    const dx = x - pts[pts.length - 2], dy = y - pts[pts.length - 1];
    // Under a quarter of the brush width (at least half an image pixel) a point adds nothing the stroke does not cover;
    // on a large photo every pointer move would otherwise add one, past what the server accepts for a scribble.
    const step = Math.max(0.5, state.draft.scribble.width / 4);
    if (dx * dx + dy * dy < step * step) return;
    pts.push(round1(x), round1(y));
  }
  draw();
}

function onPointerUp(e) {
  if (!dragStart || !state.draft) return;
  onPointerMove(e);
  dragStart = null;
  const part = state.draft;
  state.draft = null;
  if (part.box) {
    // Whole pixels: the box snaps outward to the pixel grid the user sees.
    const [ax, ay, bx, by] = part.box;
    const box = [Math.floor(Math.min(ax, bx)), Math.floor(Math.min(ay, by)), Math.ceil(Math.max(ax, bx)), Math.ceil(Math.max(ay, by))];
    if (Math.abs(bx - ax) * scale() < 3 || Math.abs(by - ay) * scale() < 3) { draw(); return; } // a click, not a drag
    state.parts.push({ box });
  } else {
    state.parts.push(part);
  }
  regionChanged();
}

function nearFirstVertex(e, p) {
  const r = ui.canvas.getBoundingClientRect();
  const fx = r.left + p[0] / state.image.width * r.width, fy = r.top + p[1] / state.image.height * r.height;
  return Math.hypot(e.clientX - fx, e.clientY - fy) < 8;
}

function finishPolygon() {
  const p = state.draft?.polygon;
  if (!p) return;
  state.draft = null;
  if (p.length >= 6) state.parts.push({ polygon: p });
  regionChanged();
}

function undo() {
  if (state.draft) state.draft = null;
  else state.parts.pop();
  regionChanged();
}

function clearRegion() {
  state.draft = null;
  state.parts = [];
  regionChanged();
}

function regionChanged() {
  draw();
  ui.regionJson.textContent = state.parts.length === 0 ? "whole image" : JSON.stringify(regionShapes());
  ui.regionJson.dataset.format = state.parts.length === 0 ? "" : ui.regionFormat.value;
}

// ---------- the region as the server reads it ----------

/** The shapes as the region JSON: one object, or an array for their union. */
function regionShapes() {
  return state.parts.length === 1 ? state.parts[0] : state.parts;
}

/** The region for the request: the whole image when nothing is drawn (said outright: without a region the server
 * would take a transparent image's alpha channel as the region). */
async function regionForRequest() {
  if (state.parts.length === 0) return { whole: true };
  if (ui.regionFormat.value !== "mask") return regionShapes();
  return { mask: maskDataUrl() };
}

/** The region rasterised at image resolution: white (inside) on black, thresholded so edges are not grey. */
function maskDataUrl() {
  const { width, height } = state.image;
  const c = document.createElement("canvas");
  c.width = width;
  c.height = height;
  const ctx = c.getContext("2d");
  ctx.fillStyle = "#000";
  ctx.fillRect(0, 0, width, height);
  for (const part of state.parts) paintPart(ctx, part, 1, "#fff");
  const pixels = ctx.getImageData(0, 0, width, height);
  const d = pixels.data;
  for (let i = 0; i < d.length; i += 4) {
    const v = d[i] >= 128 ? 255 : 0;
    d[i] = d[i + 1] = d[i + 2] = v;
    d[i + 3] = 255;
  }
  ctx.putImageData(pixels, 0, 0);
  return c.toDataURL("image/png");
}

// ---------- wiring ----------

ui.imageInput.addEventListener("change", () => { openFile(ui.imageInput.files[0]); ui.imageInput.value = ""; });
ui.stage.addEventListener("dragover", (e) => { e.preventDefault(); ui.stage.classList.add("drag"); });
ui.stage.addEventListener("dragleave", () => ui.stage.classList.remove("drag"));
// A file dropped anywhere on the page opens it (the browser would otherwise leave the page to show the file).
document.addEventListener("dragover", (e) => e.preventDefault());
document.addEventListener("drop", (e) => {
  e.preventDefault();
  ui.stage.classList.remove("drag");
  if (e.dataTransfer?.files.length) openFile(e.dataTransfer.files[0]);
});
ui.canvas.addEventListener("pointerdown", onPointerDown);
ui.canvas.addEventListener("pointermove", onPointerMove);
ui.canvas.addEventListener("pointerup", onPointerUp);
ui.canvas.addEventListener("pointercancel", () => { dragStart = null; state.draft = null; draw(); });
ui.canvas.addEventListener("dblclick", finishPolygon);
document.addEventListener("keydown", (e) => {
  if (e.target === ui.question) return;
  if (e.key === "Enter") finishPolygon();
  if (e.key === "Escape") { state.draft = null; draw(); }
});
for (const b of document.querySelectorAll(".tool")) b.addEventListener("click", () => selectTool(b.dataset.tool));
ui.brushWidth.addEventListener("input", () => setBrushWidth(ui.brushWidth.value));
ui.undo.addEventListener("click", undo);
ui.clear.addEventListener("click", clearRegion);
ui.regionFormat.addEventListener("change", regionChanged);
// The choices and the pattern show only when they count (also after the browser restores the form on a reload).
const showChoices = () => {
  ui.choicesField.hidden = ui.answerFormat.value !== "choice";
  ui.patternField.hidden = ui.answerFormat.value !== "regex";
};
ui.answerFormat.addEventListener("change", showChoices);
ui.form.addEventListener("submit", send);
$("settings-form").addEventListener("submit", (e) => e.preventDefault());
ui.question.addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey && !e.isComposing) send(e);
});
ui.stop.addEventListener("click", stop);
ui.newSession.addEventListener("click", newSession);
// A session belongs to one model: an answer still streaming would bring the old session back.
ui.models.addEventListener("change", () => { stop(); resetSession(); });
ui.apiKey.value = localStorage.getItem("regionchat.apiKey") || "";
ui.apiKey.addEventListener("change", () => { localStorage.setItem("regionchat.apiKey", ui.apiKey.value.trim()); loadModels(); });
window.addEventListener("resize", layoutCanvas);

selectTool("box");
showChoices();
loadModels();
