// The reader's first moments, before its modules run: a classic script, loaded `async`
// from the page's head, the page's only request before the first paint (the style rules
// are in the page, js/reader.js is imported after that paint): the browser runs it once
// the body is parsed, before or just after that paint.
//
// When the server names a stored chunk to start with (<meta name="preread-start">: the
// first chunk, or the one at the remembered position, which the server knows from a
// cookie js/reader.js sets: localStorage would cost a synchronous load of the origin's
// storage here, before the chunk is asked for), it starts loading that chunk into an
// <audio> at once: the browser fetches and decodes it while the page is painted. From
// the first paint that shows the Play button until the reader module takes over
// (window.prereadBoot.release), Play and the space bar play that element; the player
// (js/player.js) then adopts it, playing or not. Without one, 20 ms of silence is loaded
// instead, so the audio output is set up early all the same.
//
// It imports the reader's module (js/reader.js, and its imports, fetched together) once
// that first paint is on screen: fetched, compiled and run before it (as a module script,
// or preloaded) they held the paint, and the chunk, up.
"use strict";

(() => {
  performance.mark("boot: script runs"); // (the timeline bench/bench_web.py --trace prints)
  const boot = {
    el: null, // the starting chunk's <audio>, when this script loads it
    warm: null, // else the silence's
    time: 0, // where the remembered position is in that chunk (seconds)
    requestedAt: null, // performance.now() when Play was pressed here
    playingAt: null, // the element's first `playing`
    playableAt: null, // when Play worked (this script's or the module's)
    shown: null, // resolves once Play was shown and this script answers it
    // resolves when the page's first contentful paint (the bar and the player) is in the
    // page's timeline: Play is never said to work before a person can see it
    painted: null,
    seen: () => false, // checks (a frame, the observer and the module ask)
    release: () => {},
  };
  window.prereadBoot = boot;
  boot.painted = new Promise((resolve) => {
    const types = (window.PerformanceObserver && PerformanceObserver.supportedEntryTypes) || [];
    boot.seen = () => {
      if (types.includes("paint") && !performance.getEntriesByName("first-contentful-paint").length) return false;
      resolve(); // (without paint timing: the first frame)
      return true;
    };
    if (types.includes("paint")) new PerformanceObserver(() => boot.seen()).observe({ type: "paint", buffered: true });
    const frame = () => { if (!boot.seen()) requestAnimationFrame(frame); };
    requestAnimationFrame(frame);
  });

  let imported = false;
  const load = () => {
    if (imported) return;
    imported = true;
    for (const name of ["api", "text", "player"]) { // (reader.js's imports: one round trip)
      const link = document.createElement("link");
      link.rel = "modulepreload";
      link.href = `/static/js/${name}.js`;
      document.head.append(link);
    }
    import("/static/js/reader.js").catch((err) => { console.error("preread: the reader did not load", err); });
  };
  boot.painted.then(() => setTimeout(() => {
    // Play pressed the moment it showed: the module waits for the first sound (the audio
    // pipeline needs this thread between its steps), at most 400 ms
    if (boot.el && boot.requestedAt !== null && boot.playingAt === null) {
      boot.el.addEventListener("playing", () => setTimeout(load, 0), { once: true });
      setTimeout(load, 400);
    } else load();
  }, 0));
  // (no frames, in a background tab, say: the first paint would never come)
  if (document.readyState === "loading") addEventListener("DOMContentLoaded", () => setTimeout(load, 1000), { once: true });
  else setTimeout(load, 1000);

  const meta = document.querySelector('meta[name="preread-start"]');
  if (!meta) {
    boot.warm = new Audio();
    boot.warm.preload = "auto";
    boot.warm.src = "/static/silence.wav";
    return;
  }

  const el = new Audio();
  el.id = "first-chunk";
  el.preload = "auto";
  el.src = new URL(meta.content, location.href).href;
  performance.mark("boot: first chunk asked for");
  boot.el = el;
  boot.time = Number(meta.dataset.time) || 0;
  // the remembered playback rate (the server read it from the preread-rate cookie)
  const rate = Number(meta.dataset.rate);
  if (rate >= 0.25 && rate <= 4) el.defaultPlaybackRate = el.playbackRate = rate;
  if (boot.time > 0) el.currentTime = boot.time; // (where it starts once loaded)
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
