// The reader page: text by page and block, the player, the highlight that follows the
// voice, navigation (sentence, block, page, chapter), keyboard, Media Session, the
// position remembered per document, voices, offline copies, downloads.

import { askToken, getJSON, h, registerServiceWorker, setupTheme, sleep } from "./api.js";
import { Player } from "./player.js";
import { blockElement, chapterAt, normalize, render, sentenceTimes, wordTimes } from "./text.js";

// Imported once Play works: the first audio needs none of them.
let pregen = null; // ./pregen.js
let offline = null; // ./offline.js
let downloadButtons = null; // ./downloads.js

performance.mark("reader: script runs"); // (the start-up timeline bench/bench_web.py --trace prints)
const $ = (id) => document.getElementById(id);
const idFromPath = decodeURIComponent(location.pathname.split("/").pop() || "");
const POS_KEY = (id) => `preread.pos.${id}`;

const app = {
  doc: null, player: null, spans: [], pageEls: {}, ci: 0, si: 0, wi: -1, times: [], lastSaved: 0, words: [],
};
window.prereadReader = app; // for tests and the benchmark: app.player.stats

function say(text, kind = "") {
  const el = $("player-message");
  el.textContent = text;
  el.className = kind;
}

function timesOf(ci) {
  const duration = app.player && app.player.ci === ci ? app.player.duration : undefined;
  return sentenceTimes(app.doc.chunks[ci], duration);
}

// Move the highlight to (ci, si[, wi]); keeps it in view.
function highlight(ci, si, wi = -1, { scroll = true, force = false } = {}) {
  if (!force && ci === app.ci && si === app.si && wi === app.wi && app.spans[ci][si].classList.contains("now")) return;
  const old = app.spans[app.ci] && app.spans[app.ci][app.si];
  if (old && old.isConnected) {
    old.classList.remove("now");
    old.removeAttribute("aria-current");
    for (const w of old.querySelectorAll(".w.now")) w.classList.remove("now");
  }
  const span = app.spans[ci][si];
  span.classList.add("now");
  span.setAttribute("aria-current", "true");
  if (wi >= 0) {
    const w = span.querySelector(`.w[data-w="${wi}"]`);
    if (w) w.classList.add("now");
  }
  const moved = ci !== app.ci || si !== app.si;
  app.ci = ci; app.si = si; app.wi = wi;
  if (moved) {
    if (scroll) keepInView(span);
    updateWhere();
  }
}

function keepInView(el) {
  const r = el.getBoundingClientRect();
  const bottom = window.innerHeight - document.querySelector(".player").offsetHeight;
  if (r.top < 70 || r.bottom > bottom - 20) {
    el.scrollIntoView({ block: "center", behavior: matchMedia("(prefers-reduced-motion: reduce)").matches ? "auto" : "smooth" });
  }
}

function updateWhere() {
  const chunk = app.doc.chunks[app.ci];
  const chapter = chapterAt(app.doc, chunk.page);
  $("where").textContent = `Page ${chunk.page}${chapter ? " · " + chapter.title : ""} · sentence ${app.si + 1} of ${chunk.sentences.length}`;
  $("jump-page").placeholder = chunk.page;
  if (chapter) $("chapter").value = String(app.doc.chapters.indexOf(chapter));
  if (chapter !== app.chapter) { app.chapter = chapter; downloads(); }
  voiceBadge();
  mediaMetadata();
}

// "robotic voice" while the current block is one espeak-ng spoke (the manifest's
// spokenBy.robotic): the last resort for a language no natural voice here speaks.
function voiceBadge() {
  const chunk = app.doc.chunks[app.ci];
  const spoken = chunk && chunk.status === "done" ? chunk.spokenBy : null;
  const badge = $("voice-badge");
  badge.hidden = !(spoken && spoken.robotic);
  if (badge.hidden) return;
  let language = chunk.language || spoken.voice;
  try { language = new Intl.DisplayNames(["en"], { type: "language" }).of(language) || language; } catch (_) { /* not a code */ }
  const why = spoken.kind === "last-resort" ? `no natural voice here speaks ${language}, so ` : "";
  const label = `Robotic voice: ${why}espeak-ng reads this block`;
  badge.setAttribute("aria-label", label);
  badge.title = label;
}

function savePosition(force = false) {
  const now = performance.now();
  if (!force && now - app.lastSaved < 1000) return;
  app.lastSaved = now;
  const chunk = app.doc.chunks[app.ci];
  const t = app.player && app.player.ci === app.ci ? app.player.time : (app.times[app.si] || [0])[0];
  localStorage.setItem(POS_KEY(app.doc.documentId), JSON.stringify({
    page: chunk.page, blockIndex: chunk.blockIndex, sentence: app.si, time: Math.max(0, t), at: Date.now(),
  }));
  // for the server, which then names this block's chunk to js/boot.js (set when the block
  // changes or playback stops, not at every save)
  const at = `${chunk.page}.${chunk.blockIndex}`;
  if (force || at !== app.cookieAt) {
    app.cookieAt = at;
    document.cookie = `preread-at=${at}.${Math.max(0, t).toFixed(1)}; path=${location.pathname}; max-age=31536000; samesite=strict`;
  }
}

function restorePosition() {
  let saved = null;
  try { saved = JSON.parse(localStorage.getItem(POS_KEY(app.doc.documentId)) || "null"); } catch (_) { /* bad JSON */ }
  if (!saved) return { ci: 0, si: 0, time: 0 };
  const ci = app.doc.chunks.findIndex((c) => c.page === saved.page && c.blockIndex === saved.blockIndex);
  if (ci < 0) return { ci: 0, si: 0, time: 0 };
  const si = Math.min(saved.sentence || 0, app.doc.chunks[ci].sentences.length - 1);
  return { ci, si, time: saved.time || 0 };
}

// Follow the voice: which sentence (and word) is at the player's time.
function tick() {
  const p = app.player;
  if (p && p.playing) {
    const ci = p.ci;
    const t = p.time;
    const times = timesOf(ci);
    app.times = times;
    let si = times.findIndex(([s, e]) => t >= s && t < e);
    if (si < 0) si = t >= (times[times.length - 1] || [0, 0])[1] ? times.length - 1 : 0;
    let wi = -1;
    const words = app.words[ci] && app.words[ci][si];
    if (words) wi = words.findIndex(([s, e]) => t >= s && t < e);
    highlight(ci, si, wi);
    savePosition();
  }
  requestAnimationFrame(tick);
}

// Word times per chunk and sentence, for sentences rendered as word spans.
function indexWords() {
  app.words = app.doc.chunks.map((c, ci) => c.sentences.map((s, si) => {
    const span = app.spans[ci] && app.spans[ci][si];
    return span && span.querySelector(".w") ? wordTimes(s) : null;
  }));
}

// -- navigation ------------------------------------------------------------------------------
function goSentence(ci, si, { play = true } = {}) {
  const times = timesOf(ci);
  highlight(ci, si);
  savePosition(true);
  if (play) app.player.seek(ci, times[si] ? times[si][0] : 0);
}

function step(delta) {
  let { ci, si } = app;
  si += delta;
  if (si < 0) {
    if (ci === 0) si = 0;
    else { ci--; si = app.doc.chunks[ci].sentences.length - 1; }
  } else if (si >= app.doc.chunks[ci].sentences.length) {
    if (ci === app.doc.chunks.length - 1) return;
    ci++; si = 0;
  }
  goSentence(ci, si, { play: app.player.playing || app.player.wantPlay });
}

function stepBlock(delta) {
  let ci = app.ci + delta;
  if (delta < 0 && app.si > 0) ci = app.ci; // to the block's start first
  ci = Math.max(0, Math.min(app.doc.chunks.length - 1, ci));
  goSentence(ci, 0, { play: app.player.playing || app.player.wantPlay });
}

function goPage(page) {
  const ci = app.doc.chunks.findIndex((c) => c.page >= page);
  if (ci < 0) { say(`No text on page ${page} or after it.`, "warn"); return; }
  goSentence(ci, 0, { play: app.player.playing });
  app.pageEls[app.doc.chunks[ci].page].scrollIntoView({ block: "start" });
}

// -- controls ----------------------------------------------------------------------------------
function setupControls() {
  const p = app.player;
  $("play").addEventListener("click", () => {
    if (p.playing) p.pause();
    else if (p.slots[p.cur] && p.slots[p.cur].ci === app.ci && p.slots[p.cur].ready) p.resume();
    else {
      const r = app.restored;
      const exact = r && r.ci === app.ci && r.si === app.si;
      app.restored = null;
      p.start(app.ci, exact ? r.time : (timesOf(app.ci)[app.si] || [0])[0]);
    }
  });
  $("prev-sentence").addEventListener("click", () => step(-1));
  $("next-sentence").addEventListener("click", () => step(1));
  $("prev-block").addEventListener("click", () => stepBlock(-1));
  $("next-block").addEventListener("click", () => stepBlock(1));
  $("text").addEventListener("click", (e) => {
    const span = e.target.closest(".s");
    if (span) goSentence(Number(span.dataset.ci), Number(span.dataset.si));
  });
  $("jump-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const page = Number($("jump-page").value);
    if (page >= 1) goPage(page);
  });
  $("chapter").addEventListener("change", () => {
    const chapter = app.doc.chapters[Number($("chapter").value)];
    if (chapter) goPage(chapter.page);
  });
  const rate = $("rate");
  // (the server gives js/boot.js the rate from this cookie: Play before the modules run)
  const remember = () => { document.cookie = `preread-rate=${rate.value}; path=/; max-age=31536000; samesite=strict`; };
  // (this browser's choice; else the cookie's, which js/boot.js gave the adopted element)
  rate.value = localStorage.getItem("preread.rate") || String(p.rate || 1);
  if (!rate.value) rate.value = "1"; // (a rate the menu does not have)
  p.setRate(Number(rate.value) || 1);
  if (rate.value !== "1" && !document.cookie.split("; ").includes(`preread-rate=${rate.value}`)) remember();
  rate.addEventListener("change", () => {
    p.setRate(Number(rate.value));
    localStorage.setItem("preread.rate", rate.value);
    remember();
  });
  p.addEventListener("state", () => {
    const playing = p.playing || (p.wantPlay && !p.el.ended);
    $("play").textContent = playing ? "❚❚" : "▶";
    $("play").setAttribute("aria-label", playing ? "Pause" : "Play");
    if ("mediaSession" in navigator) navigator.mediaSession.playbackState = p.playing ? "playing" : "paused";
    if (!p.playing) savePosition(true);
  });
  p.addEventListener("status", (e) => say(e.detail.message, e.detail.kind));
  p.addEventListener("chunk", (e) => {
    $("live-badge").hidden = !e.detail.live;
    if (!e.detail.loading && e.detail.ci !== app.ci) highlight(e.detail.ci, 0);
  });
  p.addEventListener("live", () => setTimeout(refreshManifest, 1500));
  p.addEventListener("finished", () => say("End of the document."));
  document.addEventListener("keydown", onKey);
}

function onKey(e) {
  if (e.defaultPrevented || e.altKey || e.ctrlKey || e.metaKey) return;
  const tag = e.target.tagName;
  if (tag === "INPUT" || tag === "SELECT" || tag === "TEXTAREA" || document.querySelector("dialog[open]")) return;
  const p = app.player;
  const actions = {
    " ": () => $("play").click(),
    k: () => $("play").click(),
    ArrowLeft: () => step(-1),
    ArrowRight: () => step(1),
    ArrowUp: () => stepBlock(-1),
    ArrowDown: () => stepBlock(1),
    "+": () => bumpRate(1),
    "-": () => bumpRate(-1),
  };
  const action = actions[e.key];
  if (!action) return;
  if (e.key === " " && tag === "BUTTON" && e.target.id !== "play") return; // the button's own action
  e.preventDefault();
  action(p);
}

function bumpRate(delta) {
  const rate = $("rate");
  rate.selectedIndex = Math.max(0, Math.min(rate.options.length - 1, rate.selectedIndex + delta));
  rate.dispatchEvent(new Event("change"));
}

function mediaMetadata() {
  if (!("mediaSession" in navigator) || !window.MediaMetadata) return;
  const chunk = app.doc.chunks[app.ci];
  const chapter = chapterAt(app.doc, chunk.page);
  navigator.mediaSession.metadata = new MediaMetadata({
    title: chapter ? chapter.title : `Page ${chunk.page}`,
    artist: "preread",
    album: app.doc.title,
    artwork: [{ src: "/static/icon.svg", sizes: "64x64", type: "image/svg+xml" }],
  });
}

function setupMediaSession() {
  if (!("mediaSession" in navigator)) return;
  const handlers = {
    play: () => app.player.resume(),
    pause: () => app.player.pause(),
    stop: () => app.player.pause(),
    previoustrack: () => stepBlock(-1),
    nexttrack: () => stepBlock(1),
    seekbackward: () => step(-1),
    seekforward: () => step(1),
  };
  for (const [action, handler] of Object.entries(handlers)) {
    try { navigator.mediaSession.setActionHandler(action, handler); } catch (_) { /* not supported */ }
  }
}

// -- the document ------------------------------------------------------------------------------
async function loadDoc() {
  return normalize(await getJSON(`/api/documents/${idFromPath}`));
}

// The document as the page brought it (a JSON data block the server adds when the
// document is small: no request before the first audio); null without one. Read once:
// later reads fetch it again.
function docFromPage() {
  const block = $("doc-data");
  if (!block) return null;
  block.remove();
  try {
    const raw = JSON.parse(block.textContent);
    return raw && raw.documentId ? normalize(raw) : null;
  } catch (_) {
    return null; // fetched instead
  }
}

export async function refreshManifest() {
  try {
    const fresh = await loadDoc();
    if (fresh.chunks.length !== app.doc.chunks.length) return;
    fresh.chunks.forEach((c, i) => {
      const old = app.doc.chunks[i];
      if (c.page !== old.page || c.blockIndex !== old.blockIndex) return;
      const changed = c.status !== old.status || c.sha256 !== old.sha256;
      Object.assign(old, c);
      if (!c.spokenBy) delete old.spokenBy; // made again by the first voice (an upgrade)
      if (!changed) return;
      const block = blockElement(old, i); // now with its word spans, if it has word times
      app.spans[i][0].parentElement.replaceWith(block.p);
      app.spans[i] = block.spans;
      if (i === app.ci) highlight(i, Math.min(app.si, block.spans.length - 1), -1, { scroll: false, force: true });
    });
    indexWords();
    Object.assign(app.doc, { raw: fresh.raw, voice: fresh.voice, speed: fresh.speed, manifest: fresh.manifest });
    describeState();
  } catch (_) { /* offline: keep what we have */ }
}

export function describeState() {
  const chunks = app.doc.chunks;
  const done = chunks.filter((c) => c.status === "done").length;
  const pages = new Set(chunks.map((c) => c.page)).size;
  const donePages = new Set(chunks.filter((c) => c.status === "done").map((c) => c.page));
  for (const c of chunks) if (c.status !== "done") donePages.delete(c.page);
  // blocks an engine chain's fallback voice spoke (the manifest's spokenBy)
  const fell = chunks.filter((c) => c.status === "done" && c.spokenBy).length;
  const by = fell ? `, ${fell} ${fell === 1 ? "block" : "blocks"} by a fallback voice` : "";
  let text;
  if (done === chunks.length) text = `Pre-generated ✓ · ${chunks.length} blocks, voice ${app.doc.voice} at ${app.doc.speed}×${by}`;
  else if (done) text = `${donePages.size} of ${pages} pages pre-generated (voice ${app.doc.voice}${by}); the rest plays live.`;
  else text = "Not generated: it plays live, or pre-generate it.";
  $("doc-state").textContent = text;
  voiceBadge();
  downloads();
}

function downloads() {
  if (downloadButtons) downloadButtons.renderDownloads(app, { pregenerate: () => pregen && pregen.openPregen(app) });
}

async function setupVoices() {
  const select = $("voice");
  let voices = [];
  try { voices = (await getJSON("/v1/audio/voices")).voices; } catch (_) { /* offline */ }
  if (app.doc.voice && !voices.includes(app.doc.voice)) voices.unshift(app.doc.voice);
  select.replaceChildren(...voices.map((v) => h("option", { value: v }, v)));
  select.value = app.doc.voice || localStorage.getItem("preread.voice") || voices[0] || "";
  select.addEventListener("change", () => {
    localStorage.setItem("preread.voice", select.value);
    const stored = app.doc.chunks.some((c) => c.status === "done");
    if (stored && app.doc.voice && select.value !== app.doc.voice) {
      if (pregen) pregen.openPregen(app, { voice: select.value, reason: "voice" });
    }
  });
  return voices;
}

async function setupOffline() {
  const button = $("offline");
  if (!("caches" in window) || !("serviceWorker" in navigator)) { button.hidden = true; return; }
  offline = await import("./offline.js");
  const mark = async () => {
    const kept = (await offline.offlineIds()).has(app.doc.documentId);
    button.setAttribute("aria-pressed", String(kept));
    button.textContent = kept ? "Offline ✓ (remove)" : "Keep for offline";
    offline.storageLine().then((t) => { if (t) button.title = t; });
    return kept;
  };
  button.addEventListener("click", async () => {
    if (button.getAttribute("aria-pressed") === "true") {
      await offline.removeOffline(app.doc.documentId);
      $("doc-state").textContent = `Removed the offline copy. ${await offline.storageLine()}`;
      await mark();
      return;
    }
    const done = app.doc.chunks.filter((c) => c.status === "done").length;
    if (!done) { $("doc-state").textContent = "Pre-generate the document first: only stored audio can be kept offline."; return; }
    button.disabled = true;
    try {
      await refreshManifest();
      const { stored, missing } = await offline.keepOffline(app.doc.raw, (n, total) => {
        button.textContent = `Storing ${n} of ${total}…`;
      });
      $("doc-state").textContent = `Kept for offline: ${stored} chunks${missing ? `, ${missing} not generated (they need the network)` : ""}. ${await offline.storageLine()}`;
    } catch (err) {
      $("doc-state").textContent = `Could not keep it offline: ${err.message}`;
    } finally {
      button.disabled = false;
      await mark();
    }
  });
  await mark();
}

async function main() {
  setupTheme();
  $("token-button").addEventListener("click", () => askToken("Enter the server's API token."));
  try {
    // in the page, or on its way: the page's Link header preloads it
    if (window.prereadBoot) window.prereadBoot.seen(); // (the first paint may be on screen)
    app.doc = docFromPage() || (await loadDoc());
    performance.mark("reader: document");
  } catch (err) {
    $("doc-state").textContent = `Cannot open this document: ${err.message}`;
    $("doc-state").classList.add("error");
    for (const b of document.querySelectorAll(".player button, .reader-tools button")) b.disabled = true;
    if (window.prereadBoot) { // (its Play has nothing to play here)
      window.prereadBoot.release();
      if (window.prereadBoot.el) window.prereadBoot.el.pause();
    }
    registerServiceWorker();
    return;
  }
  const pos = app.doc.chunks.length ? restorePosition() : null;
  // js/boot.js: Play until now (and when the first paint was on screen)
  const boot = window.prereadBoot || { release() {}, seen() {}, painted: Promise.resolve() };
  let first = null;
  if (pos) {
    app.player = new Player(app.doc);
    // The chunk at the remembered position is fetched first, while the text is laid
    // out, so Play sounds at once (a click before it arrives waits for this fetch).
    // Usually js/boot.js has been loading it since the page's head was parsed (the server
    // named it: the first chunk, or the remembered one) and Play may have started it: the
    // player adopts that element as it is.
    if (app.doc.chunks[pos.ci].status === "done") {
      first = app.player.adopt(boot.el, pos.ci);
      // (the server's cookie and this browser's storage may disagree on the time)
      if (first && boot.requestedAt == null && Math.abs(boot.el.currentTime - pos.time) > 0.5) boot.el.currentTime = pos.time;
      if (!first) first = app.player.start(pos.ci, pos.time, { play: false });
    }
    // Its answer is at hand or nearly: once an audio element has it, the browser
    // decodes it on another thread while this one lays the text out.
    if (first) await Promise.race([app.player.firstSource, sleep(50)]);
    // boot.js answers Play from the first frame that shows it: the text waits for that
    // frame (which then lays out the bar and the player alone) and, when Play was
    // pressed, for the first sound (the audio pipeline needs this thread between its
    // steps; laying the text out then would hold it up).
    if (app.player.els[0] === boot.el) {
      await Promise.race([boot.shown, sleep(500)]); // (no frames in a background tab)
      if (boot.requestedAt != null && boot.playingAt == null) await Promise.race([app.player.firstSound, sleep(400)]);
    }
  }
  if (boot.el && !(app.player && app.player.els[0] === boot.el)) boot.el.pause(); // not adopted
  document.title = `${app.doc.title} · preread`;
  $("doc-name").textContent = app.doc.title;
  ({ spans: app.spans, pageEls: app.pageEls } = render($("text"), app.doc));
  indexWords();
  if (!pos) { boot.release(); $("doc-state").textContent = "This document has no text to read."; registerServiceWorker(); return; }
  $("jump-page").max = app.doc.pages;
  if (app.doc.chapters.length) {
    $("chapter-field").hidden = false;
    $("chapter").replaceChildren(...app.doc.chapters.map((c, i) => h("option", { value: i }, `${c.title} (p. ${c.page})`)));
  }
  boot.release(); // the player answers Play from here on
  setupControls();
  app.player.takeOver(boot);
  setupMediaSession();
  highlight(pos.ci, pos.si, -1, { scroll: false });
  updateWhere(); // (highlight() does only on a move: the start, 0/0, is none)
  // (not at the start: the page opens there, and scrolling now would lay it out before
  // Play works rather than at the next frame)
  if (pos.ci || pos.si) app.spans[pos.ci][pos.si].scrollIntoView({ block: "center" });
  app.restored = pos;
  describeState();
  requestAnimationFrame(tick);
  if (boot.playableAt == null) await Promise.race([boot.painted, sleep(1000)]); // (seen)
  app.playableAt = boot.playableAt ?? performance.now(); // Play works from here on, or did
  boot.playableAt = app.playableAt;
  document.body.dataset.playable = "true";
  // The rest waits until the first chunk can play (and, when Play was pressed, sounds):
  // before that it would only compete with it for the page's one thread.
  await first;
  if (app.player.wantPlay) await Promise.race([app.player.firstSound, sleep(500)]);
  let voices;
  [voices, pregen, downloadButtons] = await Promise.all([setupVoices(), import("./pregen.js"), import("./downloads.js")]);
  downloads();
  pregen.setupPregen(app, { voices, describeState, refreshManifest });
  $("open-pregen").addEventListener("click", () => pregen.openPregen(app));
  await setupOffline();
  registerServiceWorker(); // after the first audio's requests, which it would slow down
  app.readyAt = performance.now();
  document.body.dataset.ready = "true";
}

main();
