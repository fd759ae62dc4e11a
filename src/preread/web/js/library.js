// The library page: upload (picker, drag and drop, progress), the store's documents with
// their audio state, deleting a document's audio, offline copies, storage figures.

import {
  askToken, authHeaders, formatAgo, formatBytes, getJSON, h, registerServiceWorker, request, setupTheme,
} from "./api.js";
import { offlineIds, removeOffline, storageLine } from "./offline.js";

const $ = (id) => document.getElementById(id);
let refreshTimer = null;

function say(text, kind = "") {
  const el = $("message");
  el.textContent = text;
  el.className = "message " + kind;
}

export function audioBadge(doc) {
  const a = doc.audio;
  if (doc.job && (doc.job.state === "running" || doc.job.state === "queued")) {
    const pct = doc.job.total ? Math.floor((100 * doc.job.done) / doc.job.total) : 0;
    return { text: doc.job.state === "queued" ? "queued" : `generating ${pct} %`, kind: "busy" };
  }
  if (!a || a.done === 0) return { text: "not generated", kind: "none" };
  const fallback = a.fallback ? ` · ${a.fallback} by fallback voice` : "";
  if (a.done === a.total) return { text: `pre-generated ✓${fallback}`, kind: "done" };
  return { text: `${a.pagesDone} of ${doc.pages} pages${fallback}`, kind: "part" };
}

function row(doc, offline) {
  const badge = audioBadge(doc);
  const title = doc.title || doc.sourceName || doc.documentId.slice(0, 12);
  const actions = h("div", { class: "row-actions" });
  if (doc.audio && doc.audio.done > 0) {
    actions.append(h("button", {
      type: "button", class: "ghost danger", "aria-label": `Delete the audio of ${title}`,
      onclick: () => deleteAudio(doc, title),
    }, "Delete audio"));
  }
  if (offline) {
    actions.append(h("button", {
      type: "button", class: "ghost", "aria-label": `Remove the offline copy of ${title}`,
      onclick: async () => { await removeOffline(doc.documentId); say(`Removed the offline copy of ${title}.`); refresh(); },
    }, "Remove offline copy"));
  }
  return h("li", { class: "doc", dataset: { id: doc.documentId } },
    h("div", { class: "doc-main" },
      h("a", { class: "doc-title", href: `/read/${doc.documentId}` }, title),
      h("div", { class: "doc-meta" },
        h("span", {}, `${doc.pages ?? "?"} pages`),
        h("span", {}, doc.audio ? formatBytes(doc.audio.bytes) : "–"),
        h("span", {}, `used ${formatAgo(doc.lastUsed)}`),
      ),
    ),
    h("div", { class: "doc-side" },
      h("span", { class: `badge ${badge.kind}`, dataset: { role: "audio-state" } }, badge.text),
      offline ? h("span", { class: "badge offline", title: "Kept in this browser for offline listening" }, "offline ✓") : null,
      actions,
    ),
  );
}

async function deleteAudio(doc, title) {
  if (!confirm(`Delete the stored audio of “${title}”? The document stays in the library.`)) return;
  try {
    await request(`/api/tts/preprocess?documentId=${doc.documentId}`, { method: "DELETE" });
    say(`Deleted the audio of ${title}.`);
  } catch (err) {
    say(err.message, "error");
  }
  refresh();
}

export async function refresh() {
  clearTimeout(refreshTimer);
  let docs;
  try {
    docs = (await getJSON("/api/documents")).documents;
  } catch (err) {
    say(`Cannot list the documents: ${err.message}`, "error");
    return;
  }
  const offline = await offlineIds();
  docs.sort((a, b) => (b.lastUsed || 0) - (a.lastUsed || 0));
  $("documents").replaceChildren(...docs.map((d) => row(d, offline.has(d.documentId))));
  $("empty").hidden = docs.length > 0;
  if (docs.some((d) => d.job)) refreshTimer = setTimeout(refresh, 1500);
  getJSON("/api/tts/preprocess/stats").then((s) => {
    $("store-line").textContent = `Audio store: ${formatBytes(s.totalSize)}${s.limit ? " of " + formatBytes(s.limit) : ""}`;
  }).catch(() => {});
  storageLine().then((t) => { $("storage-line").textContent = t; });
}

function upload(file) {
  if (!file) return;
  const form = new FormData();
  form.append("file", file, file.name);
  const xhr = new XMLHttpRequest();
  xhr.open("POST", "/api/documents");
  for (const [k, v] of Object.entries(authHeaders())) xhr.setRequestHeader(k, v);
  $("upload-progress").hidden = false;
  $("upload-bar").value = 0;
  $("upload-text").textContent = `Uploading ${file.name}…`;
  xhr.upload.addEventListener("progress", (e) => {
    if (!e.lengthComputable) return;
    const pct = Math.round((100 * e.loaded) / e.total);
    $("upload-bar").value = pct;
    $("upload-text").textContent = pct < 100 ? `Uploading ${file.name}: ${pct} %` : `Reading ${file.name}…`;
  });
  xhr.addEventListener("load", async () => {
    let body = {};
    try { body = JSON.parse(xhr.responseText); } catch (_) { /* not JSON */ }
    if (xhr.status === 401 && (await askToken(body.error && body.error.message))) return upload(file);
    if (xhr.status === 200 || xhr.status === 201) {
      $("upload-bar").value = 100;
      $("upload-text").textContent = xhr.status === 201
        ? `Added “${body.title}”: ${body.pages} pages, ${body.blocks} blocks.`
        : `“${body.title}” was already in the library.`;
      await refresh();
      const link = document.querySelector(`li[data-id="${body.documentId}"] a`);
      if (link) link.focus();
    } else {
      $("upload-text").textContent = "";
      $("upload-progress").hidden = true;
      say(body.error ? body.error.message : `Upload failed (${xhr.status}).`, "error");
    }
  });
  xhr.addEventListener("error", () => say("Upload failed: the server cannot be reached.", "error"));
  xhr.send(form);
}

function setupUpload() {
  const input = $("file");
  input.addEventListener("change", () => { upload(input.files[0]); input.value = ""; });
  const drop = $("drop");
  for (const type of ["dragenter", "dragover"]) {
    drop.addEventListener(type, (e) => { e.preventDefault(); drop.classList.add("over"); });
  }
  for (const type of ["dragleave", "drop"]) drop.addEventListener(type, () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    const file = e.dataTransfer && e.dataTransfer.files[0];
    upload(file);
  });
  document.body.addEventListener("dragover", (e) => e.preventDefault());
  document.body.addEventListener("drop", (e) => e.preventDefault());
}

setupTheme();
setupUpload();
$("token-button").addEventListener("click", () => askToken("Enter the server's API token."));
registerServiceWorker();
refresh();
