// "Keep for offline": the reader page, the app's files, the manifest and every stored chunk
// of a document go into a Cache API cache named for the document; the service worker
// (sw.js) answers from there when the network is gone. Removing it deletes that cache.

import { chunkUrl } from "./api.js";

export const SHELL_CACHE = "preread-shell-v1";
const DOC_PREFIX = "preread-doc-";
export const SHELL_FILES = [
  "/",
  "/static/app.css",
  "/static/icon.svg",
  "/static/silence.wav",
  "/static/js/api.js",
  "/static/js/boot.js",
  "/static/js/downloads.js",
  "/static/js/library.js",
  "/static/js/offline.js",
  "/static/js/player.js",
  "/static/js/pregen.js",
  "/static/js/reader.js",
  "/static/js/text.js",
];

export const supported = () => "caches" in window && "serviceWorker" in navigator;

export async function offlineIds() {
  if (!("caches" in window)) return new Set();
  const names = await caches.keys();
  return new Set(names.filter((n) => n.startsWith(DOC_PREFIX)).map((n) => n.slice(DOC_PREFIX.length)));
}

// Stores the document; onProgress(done, total). Resolves {stored, missing}.
export async function keepOffline(manifest, onProgress = () => {}) {
  const id = manifest.documentId;
  const done = (manifest.chunks || []).filter((c) => c.status === "done");
  const shell = await caches.open(SHELL_CACHE);
  await shell.addAll(SHELL_FILES);
  const cache = await caches.open(DOC_PREFIX + id);
  await cache.addAll([`/read/${id}`, `/api/documents/${id}`, "/v1/audio/voices"]);
  let stored = 0;
  const queue = done.slice();
  const total = queue.length;
  onProgress(0, total);
  const worker = async () => {
    while (queue.length) {
      const chunk = queue.shift();
      const url = chunkUrl(id, chunk);
      const response = await fetch(url, { cache: "no-store" });
      if (!response.ok) throw new Error(`chunk ${chunk.index}: ${response.status}`);
      await cache.put(url, response);
      stored++;
      onProgress(stored, total);
    }
  };
  try {
    await Promise.all([worker(), worker(), worker()]);
  } catch (err) {
    await caches.delete(DOC_PREFIX + id); // whole or not at all
    throw err;
  }
  await navigator.serviceWorker.ready;
  return { stored, missing: (manifest.chunks || []).length - stored };
}

export async function removeOffline(id) {
  return caches.delete(DOC_PREFIX + id);
}

export async function storageLine() {
  if (!navigator.storage || !navigator.storage.estimate) return "";
  const { usage, quota } = await navigator.storage.estimate();
  const { formatBytes } = await import("./api.js");
  return `This browser stores ${formatBytes(usage)} of ${formatBytes(quota)} available.`;
}
