// Gapless playback of a document's chunks from /api/tts/chunk.
//
// Two <audio> elements: one plays, the other holds the next chunk, fetched as a blob
// while the current one plays, so crossing a chunk boundary is one play() call on an
// element that is already decoded. A chunk the store lacks is generated live by the
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
    this.stats = { gaps: [], firstAudioMs: null, openedAt: performance.now(), live: 0 };
    this.endedAt = null;
  }

  #element(slot) {
    const el = new Audio();
    el.preload = "auto";
    el.addEventListener("ended", () => this.#ended(slot));
    el.addEventListener("playing", () => this.#playing(slot));
    el.addEventListener("pause", () => slot === this.cur && this.#emit("state"));
    el.addEventListener("error", () => {
      if (slot === this.cur && el.src) this.#status(`cannot play chunk ${this.ci + 1}: ${el.error && el.error.message ? el.error.message : "media error"}`, "error");
    });
    return el;
  }

  get el() { return this.els[this.cur]; }
  get playing() { return !this.el.paused && !this.el.ended; }
  get time() { return this.el.currentTime || 0; }
  get duration() { return this.el.duration; }

  #emit(type, detail = {}) { this.dispatchEvent(new CustomEvent(type, { detail })); }
  #status(message, kind = "") { this.#emit("status", { message, kind }); }

  setRate(rate) {
    this.rate = rate;
    for (const el of this.els) el.playbackRate = rate;
  }

  // Fetch chunk ci into slot; resolves when the element can play it.
  async #load(slot, ci, gen) {
    const chunk = this.doc.chunks[ci];
    const url = chunkUrl(this.doc.documentId, chunk);
    const response = await fetchWithRetry(url, {
      onRetry: (seconds, why, attempt) => {
        if (gen === this.gen) this.#status(`${why}: retrying chunk ${ci + 1} in ${seconds} s (attempt ${attempt})`, "warn");
      },
    });
    if (!response.ok) {
      let message = `${response.status}`;
      try { message = (await response.json()).error.message; } catch (_) { /* not JSON */ }
      throw new Error(message);
    }
    const live = response.headers.get("X-Cache") === "MISS";
    const blob = await response.blob();
    if (gen !== this.gen) return false;
    const el = this.els[slot];
    const old = this.slots[slot];
    if (old) URL.revokeObjectURL(old.url);
    const objectUrl = URL.createObjectURL(blob);
    this.slots[slot] = { ci, live, url: objectUrl, ready: false };
    el.src = objectUrl;
    el.playbackRate = this.rate;
    await new Promise((resolve, reject) => {
      const ok = () => { cleanup(); resolve(); };
      const bad = () => { cleanup(); reject(new Error("the audio could not be decoded")); };
      const cleanup = () => { el.removeEventListener("canplaythrough", ok); el.removeEventListener("error", bad); };
      el.addEventListener("canplaythrough", ok);
      el.addEventListener("error", bad);
      el.load();
    });
    if (this.slots[slot] && this.slots[slot].url === objectUrl) this.slots[slot].ready = true;
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
    this.wantPlay = play;
    this.ci = ci;
    for (const el of this.els) el.pause();
    this.#emit("chunk", { ci, loading: true });
    let slot = this.cur;
    const have = this.slots.findIndex((s) => s && s.ci === ci && s.ready);
    if (have >= 0) slot = have;
    try {
      if (have < 0) {
        this.#status(`loading chunk ${ci + 1}…`);
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
    if (play) await this.#play();
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
    this.prefetching = this.#load(other, next, gen).catch(() => {
      /* a failed prefetch is retried when the chunk is due */
      if (this.slots[other] && this.slots[other].ci === next) this.slots[other] = null;
    });
  }

  #ended(slot) {
    if (slot !== this.cur) return;
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
    this.endedAt = performance.now();
    this.cur = other;
    this.ci = next;
    this.el.currentTime = 0;
    this.#emit("chunk", { ci: next, live: this.slots[other].live });
    this.#play();
    this.#prefetch(this.gen);
  }

  #playing(slot) {
    if (slot !== this.cur) return;
    const now = performance.now();
    if (this.stats.firstAudioMs === null) this.stats.firstAudioMs = now - this.stats.openedAt;
    if (this.endedAt !== null) {
      this.stats.gaps.push(now - this.endedAt);
      this.endedAt = null;
    }
    this.#emit("state");
  }

  toggle() {
    if (this.playing) this.pause();
    else this.resume();
  }

  pause() {
    this.wantPlay = false;
    this.el.pause();
    this.#emit("state");
  }

  resume() {
    const slot = this.slots[this.cur];
    if (slot && slot.ci === this.ci && slot.ready) {
      this.wantPlay = true;
      this.#play();
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
