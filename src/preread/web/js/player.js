// Gapless playback of a document's chunks from /api/tts/chunk.
//
// Two <audio> elements: one plays, the other holds the next chunk, fetched as a blob
// while the current one plays, so crossing a chunk boundary is one play() call on an
// element that is already decoded, made just before the current chunk ends. A chunk the store lacks is generated live by the
// server (X-Cache: MISS): the same request, the "live" badge. 503, 429 and network
// errors retry with backoff and say so. Gaps at boundaries are measured (stats.gaps).

import { chunkUrl, fetchWithRetry } from "./api.js";

export class Player extends EventTarget {
  constructor(doc) {
    super();
    this.doc = doc;
    this.els = [this.#element(0), this.#element(1)];
    this.cur = 0;
    this.slots = [null, null]; // {ci, live, url}
    this.ci = 0;
    this.rate = 1;
    this.wantPlay = false;
    this.gen = 0;
    this.prefetching = null;
    this.loads = new Set(); // chunk fetches in flight: {ci, slot, gen, promise}
    // for tests and bench/bench_web.py: boundary gaps (ms), when play was first asked
    // for and when audio first played (performance.now()), chunks played live
    this.stats = { gaps: [], requestedAt: null, firstAudioAt: null, live: 0 };
    this.endedAt = null;
    this.lead = 30; // ms between play() and sound, learnt at each boundary
    this.watching = false;
    this.message = ""; // what the status line says now
    this.firstSound = new Promise((resolve) => { this.heard = resolve; }); // the first `playing`
    this.firstSource = new Promise((resolve) => { this.sourced = resolve; }); // the first src set
  }

  #element(slot, el = new Audio()) {
    el.preload = "auto";
    el.addEventListener("ended", () => this.#ended(slot));
    el.addEventListener("playing", () => this.#playing(slot));
    el.addEventListener("pause", () => slot === this.cur && this.#emit("state"));
    el.addEventListener("error", () => {
      // (one that fails while it loads says so through start())
      if (slot === this.cur && el.src && this.slots[slot] && this.slots[slot].ready) this.#status(`cannot play chunk ${this.ci + 1}: ${el.error && el.error.message ? el.error.message : "media error"}`, "error");
    });
    return el;
  }

  get el() { return this.els[this.cur]; }
  get playing() { return !this.el.paused && !this.el.ended; }
  get time() { return this.el.currentTime || 0; }
  get duration() { return this.el.duration; }

  #emit(type, detail = {}) { this.dispatchEvent(new CustomEvent(type, { detail })); }
  #status(message, kind = "") {
    this.message = message;
    this.#emit("status", { message, kind });
  }

  setRate(rate) {
    this.rate = rate;
    for (const el of this.els) el.playbackRate = rate;
  }

  // The load of chunk ci in flight (into that slot, when given), if any.
  #inFlight(ci, slot = null) {
    for (const job of this.loads) if (job.ci === ci && (slot === null || job.slot === slot)) return job;
    return null;
  }

  // Fetch chunk ci into slot; resolves when the element can play it (false when a newer
  // start() made it moot). One request per chunk: a load of the same chunk already in
  // flight (a prefetch the current chunk ended before, a start() on page load) is adopted,
  // and resolves for this caller too.
  #load(slot, ci, gen) {
    const flying = this.#inFlight(ci, slot);
    if (flying) {
      flying.gen = gen;
      return flying.promise;
    }
    const job = { ci, slot, gen };
    this.loads.add(job);
    job.promise = this.#fetchInto(job).finally(() => this.loads.delete(job));
    return job.promise;
  }

  // The page's own <audio> (js/boot.js's: the first stored chunk, which the browser has
  // been fetching and decoding since the page's head was parsed) becomes slot 0's element,
  // holding chunk ci, as it is (Play may have started it: see takeOver): a start() of that
  // chunk adopts its load. Resolves when it can play; null (and nothing changed) when the
  // element holds another chunk's URL or there is none.
  adopt(el, ci) {
    const chunk = this.doc.chunks[ci];
    if (!el || !chunk || chunk.status !== "done" || this.slots[0] || this.loads.size) return null;
    if (el.src !== new URL(chunkUrl(this.doc.documentId, chunk), location.href).href) return null;
    this.els[0] = this.#element(0, el);
    this.cur = 0;
    this.ci = ci;
    this.setRate(el.playbackRate || 1); // (js/boot.js set the remembered rate)
    this.slots[0] = { ci, live: false, url: el.src, ready: false };
    const job = { ci, slot: 0, gen: this.gen };
    this.loads.add(job);
    job.promise = this.#adopted(job, el).finally(() => this.loads.delete(job));
    this.sourced();
    return job.promise;
  }

  // From here on the player answers Play, not js/boot.js: what Play did there (the
  // adopted element playing or paused, when Play was pressed, its first `playing` if it
  // came before the player listened) becomes the player's state.
  takeOver(boot) {
    if (this.stats.requestedAt === null && boot.requestedAt != null) this.stats.requestedAt = boot.requestedAt;
    if (this.stats.firstAudioAt === null && boot.playingAt != null) { // (before the player listened)
      this.stats.firstAudioAt = boot.playingAt;
      this.heard();
    }
    this.wantPlay = !this.el.paused;
    if (this.wantPlay && this.stats.firstAudioAt !== null) this.#watch();
    if (this.wantPlay) {
      const gen = this.gen;
      const job = this.#inFlight(this.ci, this.cur);
      Promise.resolve(job ? job.promise : true).then((ok) => {
        if (!ok || gen !== this.gen || !this.wantPlay) return;
        if (this.el.paused) this.#play(); // (fetched again when the page's load failed)
        this.#prefetch(gen);
      }, () => {});
    }
    this.#emit("state");
  }

  async #adopted(job, el) {
    const url = el.src;
    try {
      if (el.error) throw el.error;
      if (el.readyState < HTMLMediaElement.HAVE_ENOUGH_DATA) await this.#canPlay(el);
    } catch (_) {
      // not playable as the page got it (offline: the media request bypasses the service
      // worker; or gone from the store): fetched as every other chunk is
      if (this.slots[0] && this.slots[0].url === url) this.slots[0] = null;
      return this.#fetchInto(job);
    }
    if (!this.slots[0] || this.slots[0].url !== url) return false; // another chunk took the slot
    this.slots[0].ready = true;
    if (!this.marked) this.marked = performance.mark(`player: chunk ${job.ci + 1} can play`);
    return true;
  }

  // Resolves when the element can play through (load() first when asked), rejects on error.
  #canPlay(el, load = false) {
    return new Promise((resolve, reject) => {
      const ok = () => { cleanup(); resolve(); };
      const bad = () => { cleanup(); reject(new Error("the audio could not be decoded")); };
      const cleanup = () => { el.removeEventListener("canplaythrough", ok); el.removeEventListener("error", bad); };
      el.addEventListener("canplaythrough", ok);
      el.addEventListener("error", bad);
      if (load) el.load();
    });
  }

  async #fetchInto(job) {
    const { slot, ci } = job;
    const chunk = this.doc.chunks[ci];
    const url = chunkUrl(this.doc.documentId, chunk);
    let retried = false;
    const response = await fetchWithRetry(url, {
      onRetry: (seconds, why, attempt) => {
        retried = true;
        if (job.gen === this.gen) this.#status(`${why}: retrying chunk ${ci + 1} in ${seconds} s (attempt ${attempt})`, "warn");
      },
    });
    if (retried && response.ok && job.gen === this.gen) this.#status(""); // recovered: say so no more
    if (!response.ok) {
      let message = `${response.status}`;
      try { message = (await response.json()).error.message; } catch (_) { /* not JSON */ }
      throw new Error(message);
    }
    const live = response.headers.get("X-Cache") === "MISS";
    const blob = await response.blob();
    if (job.gen !== this.gen) { this.loads.delete(job); return false; } // none may adopt it now
    const el = this.els[slot];
    const old = this.slots[slot];
    if (old) URL.revokeObjectURL(old.url);
    const objectUrl = URL.createObjectURL(blob);
    this.slots[slot] = { ci, live, url: objectUrl, ready: false };
    el.src = objectUrl;
    this.sourced();
    el.playbackRate = this.rate;
    await this.#canPlay(el, true);
    if (this.slots[slot] && this.slots[slot].url === objectUrl) this.slots[slot].ready = true;
    if (!this.marked) this.marked = performance.mark(`player: chunk ${ci + 1} can play`); // the first
    if (live) {
      this.stats.live++;
      this.#emit("live", { ci });
    }
    return true;
  }

  // Play from chunk ci at time t (seconds into the chunk).
  async start(ci, t = 0, { play = true } = {}) {
    if (ci < 0 || ci >= this.doc.chunks.length) return;
    const gen = ++this.gen;
    if (this.stats.requestedAt === null && play) this.stats.requestedAt = performance.now();
    this.wantPlay = play;
    this.ci = ci;
    for (const el of this.els) el.pause();
    this.#emit("chunk", { ci, loading: true });
    let slot = this.cur;
    const have = this.slots.findIndex((s) => s && s.ci === ci && s.ready);
    if (have >= 0) slot = have;
    const flying = have < 0 ? this.#inFlight(ci) : null;
    try {
      if (flying) slot = flying.slot; // on its way (prefetched, or fetched at page load)
      if (have < 0) {
        // (an adopted load may be saying it is retrying: that stays)
        if (!flying || !this.message) this.#status(`loading chunk ${ci + 1}…`);
        if (!(await this.#load(slot, ci, gen))) return;
      }
    } catch (err) {
      if (gen === this.gen) this.#status(`chunk ${ci + 1}: ${err.message}`, "error");
      this.#emit("state");
      return;
    }
    if (gen !== this.gen) return;
    this.cur = slot;
    this.el.currentTime = t;
    this.#status("");
    this.#emit("chunk", { ci, live: this.slots[slot].live });
    if (!play) return; // loaded and ready: resume() plays it at once
    await this.#play();
    this.#prefetch(gen);
  }

  async #play() {
    try {
      await this.el.play();
    } catch (err) {
      if (err.name !== "AbortError") this.#status(`press play to start (${err.message})`, "warn");
    }
    this.#emit("state");
  }

  #prefetch(gen) {
    const next = this.ci + 1;
    if (next >= this.doc.chunks.length) return;
    const other = 1 - this.cur;
    if (this.slots[other] && this.slots[other].ci === next) return;
    const flying = this.#inFlight(next, other);
    if (flying) { flying.gen = gen; return; } // asked for already (then paused and played)
    this.prefetching = this.#load(other, next, gen).catch(() => {
      /* a failed prefetch is retried when the chunk is due */
      if (this.slots[other] && this.slots[other].ci === next) this.slots[other] = null;
    });
  }

  // Start the next chunk `lead` ms before the current one ends: an element that is told
  // to play needs that long to sound (measured at each boundary), so the next chunk then
  // starts as the current one stops. Runs every frame while playing.
  #watch() {
    if (this.watching) return;
    this.watching = true;
    const frame = () => {
      if (!this.playing) { this.watching = false; return; }
      const el = this.el;
      const left = ((el.duration - el.currentTime) / (el.playbackRate || 1)) * 1000;
      const other = 1 - this.cur;
      const next = this.slots[other];
      if (isFinite(left) && next && next.ci === this.ci + 1 && next.ready && left <= this.lead + 8) {
        this.#handoff(performance.now() + left);
      }
      requestAnimationFrame(frame);
    };
    requestAnimationFrame(frame);
  }

  #handoff(endsAt) {
    const other = 1 - this.cur;
    this.endedAt = endsAt; // when the current chunk's audio stops
    this.playCalledAt = performance.now();
    this.cur = other;
    this.ci += 1;
    this.el.currentTime = 0;
    this.#emit("chunk", { ci: this.ci, live: this.slots[other].live });
    this.#play();
    this.#prefetch(this.gen);
  }

  #ended(slot) {
    if (slot !== this.cur) return; // handed off already
    const next = this.ci + 1;
    if (next >= this.doc.chunks.length) {
      this.wantPlay = false;
      this.#emit("state");
      this.#emit("finished");
      return;
    }
    const other = 1 - slot;
    const ready = this.slots[other] && this.slots[other].ci === next && this.slots[other].ready;
    if (!ready) {
      this.start(next, 0);
      return;
    }
    this.#handoff(performance.now());
  }

  #playing(slot) {
    if (slot !== this.cur) return;
    const now = performance.now();
    if (this.stats.firstAudioAt === null) {
      this.stats.firstAudioAt = now;
      this.heard();
    }
    if (this.endedAt !== null) {
      // silence between the chunks (0 when the next one started before this one ended)
      this.stats.gaps.push(Math.max(0, now - this.endedAt));
      const latency = now - this.playCalledAt;
      this.lead = Math.min(150, Math.max(0, 0.7 * this.lead + 0.3 * latency));
      this.endedAt = null;
    }
    this.#watch();
    this.#emit("state");
  }

  toggle() {
    if (this.playing) this.pause();
    else this.resume();
  }

  pause() {
    this.wantPlay = false;
    for (const el of this.els) el.pause();
    this.#emit("state");
  }

  resume() {
    const slot = this.slots[this.cur];
    if (slot && slot.ci === this.ci && slot.ready) {
      this.wantPlay = true;
      if (this.stats.requestedAt === null) this.stats.requestedAt = performance.now();
      this.#play();
      this.#prefetch(this.gen);
    } else this.start(this.ci, 0);
  }

  // Seek within the loaded chunk, or load another.
  seek(ci, t) {
    const slot = this.slots[this.cur];
    if (ci === this.ci && slot && slot.ci === ci && slot.ready) {
      this.el.currentTime = t;
      if (!this.playing) this.resume();
      return;
    }
    this.start(ci, t);
  }
}
