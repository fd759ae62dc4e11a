// The reader's first moments, before its modules run: a classic script, the first in
// the page's head (before the stylesheet, so it does not wait for it): it runs before the
// body is parsed.
//
// When the server says the document's first chunk is stored (<meta name=
// "preread-first-chunk">) and the remembered position is in that chunk (or there is none),
// it starts loading that chunk into an <audio> at once: the browser fetches and decodes it
// while the rest of the page arrives. From the first frame that shows the Play button
// (the stylesheet applied) until the reader module takes over (window.prereadBoot.release),
// Play and the space bar play that element; the player (js/player.js) then adopts it,
// playing or not. With the position elsewhere, chunk 0 is not downloaded: 20 ms of
// silence is loaded instead, so the audio output is set up early all the same.
"use strict";

(() => {
  performance.mark("boot: script runs"); // (the timeline bench/bench_web.py --trace prints)
  const boot = {
    el: null, // the first chunk's <audio>, when this script loads it
    warm: null, // else the silence's
    ci: 0,
    time: 0, // where the remembered position is in that chunk (seconds)
    requestedAt: null, // performance.now() when Play was pressed here
    playingAt: null, // the element's first `playing`
    playableAt: null, // when Play worked (this script's or the module's)
    shown: null, // resolves once Play was shown and this script answers it
    // resolves when the page's first contentful paint is on screen (the bar and the
    // player): Play is never said to work before a person can see it
    painted: new Promise((resolve) => {
      try {
        const observer = new PerformanceObserver((list) => {
          if (!list.getEntries().some((e) => e.name === "first-contentful-paint")) return;
          observer.disconnect();
          resolve();
        });
        observer.observe({ type: "paint", buffered: true });
      } catch (_) {
        resolve(); // (no paint timing here: the module's own checks decide)
      }
    }),
    release: () => {},
  };
  window.prereadBoot = boot;

  const meta = document.querySelector('meta[name="preread-first-chunk"]');
  const url = meta ? new URL(meta.content, location.href) : null;
  let saved = null;
  if (url) {
    try {
      saved = JSON.parse(localStorage.getItem("preread.pos." + url.searchParams.get("documentId")) || "null");
    } catch (_) { /* no storage, or bad JSON: from the start */ }
  }
  const here = saved === null || (
    String(saved.page) === url.searchParams.get("page") &&
    String(saved.blockIndex) === url.searchParams.get("blockIndex"));
  if (!url || !here) {
    boot.warm = new Audio();
    boot.warm.preload = "auto";
    boot.warm.src = "/static/silence.wav";
    return;
  }

  const el = new Audio();
  el.id = "first-chunk";
  el.preload = "auto";
  el.src = url.href;
  performance.mark("boot: first chunk asked for");
  boot.el = el;
  boot.time = saved && saved.time > 0 ? saved.time : 0;
  if (boot.time) el.currentTime = boot.time; // (where it starts once loaded)
  el.playbackRate = Number(localStorage.getItem("preread.rate")) || 1;
  el.addEventListener("playing", () => {
    if (boot.playingAt === null) boot.playingAt = performance.now();
  });

  const button = () => document.getElementById("play");
  const label = () => {
    const playing = !el.paused;
    button().textContent = playing ? "❚❚" : "▶";
    button().setAttribute("aria-label", playing ? "Pause" : "Play");
  };
  const toggle = () => {
    if (el.paused) {
      if (boot.requestedAt === null) boot.requestedAt = performance.now();
      el.play().catch(() => { /* the player says why, once it adopts the element */ });
    } else el.pause();
    label();
  };
  const onClick = (e) => {
    if (boot.playableAt === null || !e.target.closest || !e.target.closest("#play")) return;
    e.stopImmediatePropagation();
    toggle();
  };
  const onKey = (e) => {
    if (boot.playableAt === null || e.key !== " " || e.altKey || e.ctrlKey || e.metaKey) return;
    const tag = e.target.tagName;
    if (tag === "INPUT" || tag === "SELECT" || tag === "TEXTAREA" || (tag === "BUTTON" && e.target.id !== "play")) return;
    e.preventDefault();
    e.stopImmediatePropagation();
    toggle();
  };
  document.addEventListener("click", onClick, true);
  document.addEventListener("keydown", onKey, true);
  boot.release = () => {
    document.removeEventListener("click", onClick, true);
    document.removeEventListener("keydown", onKey, true);
  };

  // Play works once a person can see it: the first contentful paint shows the bar and
  // the player (the stylesheet in: it blocks that paint).
  boot.shown = boot.painted.then(() => new Promise((resolve) => {
    const ready = () => {
      if (boot.playableAt !== null) { resolve(); return; } // (the module said so first)
      if (!button()) { requestAnimationFrame(ready); return; }
      boot.playableAt = performance.now();
      document.body.dataset.playable = "true";
      resolve();
    };
    ready();
  }));
})();
