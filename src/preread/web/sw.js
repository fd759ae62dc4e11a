// preread's service worker: network first for everything it handles, and when the
// network is gone, the copies "Keep for offline" stored (the Cache API). It never
// caches on its own, so what is offline is exactly what the person chose to keep.
"use strict";

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

function handled(url) {
  if (url.origin !== self.location.origin) return false;
  const p = url.pathname;
  return p === "/" || p.startsWith("/read/") || p.startsWith("/static/") ||
    p === "/api/tts/chunk" || /^\/api\/documents\/[0-9a-f]+$/.test(p) || p === "/v1/audio/voices";
}

async function fromCache(request) {
  const url = new URL(request.url);
  let hit = await caches.match(request, { ignoreVary: true });
  if (!hit && request.mode === "navigate" && url.pathname.startsWith("/read/")) {
    hit = await caches.match(url.pathname, { ignoreSearch: true, ignoreVary: true });
  }
  return hit;
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (!handled(url) || request.headers.has("range")) return;
  event.respondWith((async () => {
    try {
      return await fetch(request);
    } catch (err) {
      const hit = await fromCache(request);
      if (hit) return hit;
      throw err;
    }
  })());
});
