// The pre-generate dialog: scope (whole document, this page, a page range), voice and
// speed, an estimate from the server (this machine's measured speed), the job's progress
// from its Server-Sent Events, cancel; a warning when stored audio has other settings;
// the store panel (size against the limit) and clearing the document's audio.

import { formatBytes, formatDuration, getJSON, request, sendJSON } from "./api.js";

const $ = (id) => document.getElementById(id);
let app = null;
let hooks = null;
let events = null;
let estimateTimer = null;

function pagesValue() {
  const scope = document.querySelector('input[name="scope"]:checked').value;
  const page = app.doc.chunks[app.ci].page;
  if (scope === "page") return String(page);
  if (scope === "range") {
    const from = Number($("pg-from").value) || 1;
    const to = Number($("pg-to").value) || from;
    return `${Math.min(from, to)}-${Math.max(from, to)}`;
  }
  return "";
}

function settings() {
  return { voice: $("pg-voice").value, speed: Number($("pg-speed").value) || 1 };
}

function differs() {
  const stored = app.doc.chunks.some((c) => c.status === "done");
  const { voice, speed } = settings();
  return stored && app.doc.voice && (voice !== app.doc.voice || Math.abs(speed - (app.doc.speed || 1)) > 1e-9);
}

function updateWarning() {
  const warn = $("pg-warning");
  if (!differs()) { warn.hidden = true; return; }
  warn.hidden = false;
  warn.textContent = `The stored audio is voice ${app.doc.voice} at speed ${app.doc.speed}. ` +
    `Generating with ${settings().voice} at ${settings().speed} regenerates it, replacing what is stored.`;
  $("pg-start").textContent = "Regenerate";
}

async function estimate() {
  clearTimeout(estimateTimer);
  estimateTimer = setTimeout(async () => {
    const { voice, speed } = settings();
    const pages = pagesValue();
    const url = `/api/documents/${app.doc.documentId}/estimate?voice=${encodeURIComponent(voice)}&speed=${speed}` +
      (pages ? `&pages=${encodeURIComponent(pages)}` : "");
    try {
      const e = await getJSON(url);
      $("est-chars").textContent = e.characters.toLocaleString();
      $("est-audio").textContent = formatDuration(e.audioSeconds);
      $("est-disk").textContent = formatBytes(e.bytes);
      $("est-time").textContent = e.charactersToGenerate ? formatDuration(Math.max(1, e.seconds)) : "stored";
      $("est-time").title = `measured here: ${e.measured.charsPerSecond} characters per second`;
    } catch (err) {
      for (const id of ["est-chars", "est-audio", "est-disk", "est-time"]) $(id).textContent = "–";
      $("pg-text").textContent = err.message;
      $("pg-progress").hidden = false;
    }
  }, 150);
}

async function storePanel() {
  try {
    const s = await getJSON("/api/tts/preprocess/stats");
    const mine = app.doc.chunks.reduce((n, c) => n + (c.status === "done" ? c.bytes || 0 : 0), 0);
    $("store-meter").style.width = s.limit ? `${Math.min(100, (100 * s.totalSize) / s.limit)}%` : "0";
    $("store-text").textContent = `${formatBytes(s.totalSize)}${s.limit ? " of " + formatBytes(s.limit) : ""} used by ` +
      `${s.documentsCount} document${s.documentsCount === 1 ? "" : "s"}; this one: ${formatBytes(mine)}.`;
    $("clear-cache").disabled = mine === 0;
  } catch (err) {
    $("store-text").textContent = `Store figures unavailable: ${err.message}`;
  }
}

function progress(status, ended = false) {
  const box = $("pg-progress");
  box.hidden = false;
  const bar = $("pg-bar");
  const total = status.total || 0;
  const done = status.done || 0;
  if (ended) {
    const ok = !["failed", "cancelled"].includes(status.state);
    if (ok) bar.value = 100;
    $("pg-text").textContent = ok
      ? `Done: 100 %${status.failed ? `, ${status.failed} blocks failed` : ""}.`
      : `Job ${status.state}${status.error ? ": " + status.error : ""}.`;
    return;
  }
  const pct = total ? Math.floor((100 * done) / total) : 0;
  bar.value = pct;
  const eta = status.eta != null ? `, about ${formatDuration(status.eta)} left` : "";
  $("pg-text").textContent = status.state === "queued" ? "Queued…" : `Generating: ${pct} % (${done} of ${total} blocks${eta})`;
}

function watch() {
  if (events) events.close();
  events = new EventSource(`/api/tts/preprocess/events?documentId=${app.doc.documentId}`);
  $("pg-cancel").hidden = false;
  $("pg-start").disabled = true;
  events.addEventListener("status", (e) => progress(JSON.parse(e.data)));
  events.addEventListener("end", async (e) => {
    events.close();
    events = null;
    progress(JSON.parse(e.data), true);
    $("pg-cancel").hidden = true;
    $("pg-start").disabled = false;
    await hooks.refreshManifest();
    storePanel();
    estimate();
  });
  events.onerror = () => {
    if (events && events.readyState === EventSource.CLOSED) {
      $("pg-text").textContent = "Lost the progress stream; reopen the dialog to see the state.";
    }
  };
}

async function start() {
  const { voice, speed } = settings();
  const pages = pagesValue();
  const body = { documentId: app.doc.documentId, voice, speed };
  if (pages) body.pages = pages;
  if (differs()) body.force = true;
  $("pg-bar").value = 0;
  $("pg-progress").hidden = false;
  $("pg-text").textContent = "Starting…";
  try {
    const answer = await sendJSON("POST", "/api/tts/preprocess", body);
    if (answer.state === "complete" && !answer.jobId) {
      progress({ state: "complete" }, true);
      $("pg-text").textContent = "Already pre-generated with these settings: 100 %.";
      return;
    }
    watch();
  } catch (err) {
    $("pg-text").textContent = err.message;
  }
}

async function cancel() {
  try {
    await sendJSON("POST", `/api/tts/preprocess/cancel?documentId=${app.doc.documentId}`);
  } catch (err) {
    $("pg-text").textContent = err.message;
  }
}

async function clearCache() {
  if (!confirm("Delete this document's stored audio? It can be generated again.")) return;
  try {
    await request(`/api/tts/preprocess?documentId=${app.doc.documentId}`, { method: "DELETE" });
    $("pg-text").textContent = "Cleared this document's audio.";
    $("pg-progress").hidden = false;
    await hooks.refreshManifest();
    app.doc.chunks.forEach((c) => { c.status = "pending"; });
    hooks.describeState();
  } catch (err) {
    $("pg-text").textContent = err.message;
  }
  storePanel();
  estimate();
}

export function setupPregen(theApp, theHooks) {
  app = theApp;
  hooks = theHooks;
  const select = $("pg-voice");
  const voices = theHooks.voices.length ? theHooks.voices : [app.doc.voice || ""];
  select.replaceChildren(...voices.map((v) => new Option(v, v)));
  $("pg-from").max = $("pg-to").max = app.doc.pages;
  for (const el of document.querySelectorAll('#pregen input, #pregen select')) {
    el.addEventListener("input", () => { updateWarning(); estimate(); });
  }
  for (const id of ["pg-from", "pg-to"]) {
    $(id).addEventListener("focus", () => { document.querySelector('input[name="scope"][value="range"]').checked = true; });
  }
  $("pg-start").addEventListener("click", start);
  $("pg-cancel").addEventListener("click", cancel);
  $("clear-cache").addEventListener("click", clearCache);
}

export async function openPregen(theApp, { voice, reason } = {}) {
  const page = app.doc.chunks[app.ci].page;
  $("pg-all-note").textContent = `(${app.doc.pages} pages)`;
  $("pg-page-note").textContent = `(page ${page})`;
  $("pg-from").value = $("pg-from").value || page;
  $("pg-to").value = $("pg-to").value || Math.min(app.doc.pages, page + 9);
  $("pg-voice").value = voice || $("voice").value || app.doc.voice || $("pg-voice").value;
  if (!reason) $("pg-speed").value = app.doc.speed || 1;
  $("pg-start").textContent = "Start";
  updateWarning();
  const dialog = $("pregen");
  if (!dialog.open) dialog.showModal();
  estimate();
  storePanel();
  try {
    const status = await getJSON(`/api/tts/preprocess/status?documentId=${app.doc.documentId}`);
    if (status.state === "running" || status.state === "queued") watch();
  } catch (_) { /* offline */ }
}
