// Download buttons: the document, and the chapter at the reading position, as an
// audiobook (M4B), MP3 with chapter marks, or subtitles (WebVTT, SRT), from
// GET /api/documents/{id}/export. Exports are made from stored audio only: where pages
// have none, the buttons give way to a line saying how many and a "Pre-generate" button.
// A click first asks the server (HEAD) whether the file can be made: a chunk missing from
// the store that the manifest still lists is said here, not as a failed download.

import { h } from "./api.js";
import { chapterAt } from "./text.js";

const FORMATS = [
  ["m4b", "M4B", "Audiobook (AAC with chapters); a long book takes a while to encode"],
  ["mp3", "MP3", "MP3 with chapter marks"],
  ["vtt", "WebVTT", "Subtitles, one cue per sentence"],
  ["srt", "SRT", "Subtitles, one cue per sentence"],
];

function missingPages(chunks) {
  const pages = new Set();
  for (const c of chunks) if (c.status !== "done") pages.add(c.page);
  return pages;
}

function links(base, query, what) {
  return FORMATS.map(([fmt, label, title]) => h("a", {
    class: "button", href: `${base}?format=${fmt}${query}`, download: "", title,
    "aria-label": `Download ${what} as ${label}`, dataset: { format: fmt },
  }, label));
}

function row(name, ...items) {
  return h("div", { class: "download-row" }, h("span", { class: "download-what" }, name), ...items);
}

// The chapter the reading position is in: [its 1-based number, its chunks].
function currentChapter(app) {
  const { chapters, chunks } = app.doc;
  const chapter = chapters.length ? chapterAt(app.doc, chunks[app.ci].page) : null;
  if (!chapter) return null;
  const sorted = [...chapters].sort((a, b) => a.page - b.page);
  const n = sorted.indexOf(chapter);
  const end = n + 1 < sorted.length ? sorted[n + 1].page : Infinity;
  return { number: n + 1, chapter, chunks: chunks.filter((c) => c.page >= chapter.page && c.page < end) };
}

function problem(box, text, pregenerate) {
  box.querySelector(".download-problem")?.remove();
  box.append(row("", h("span", { class: "download-problem warning", role: "alert" }, text),
    h("button", { type: "button", onclick: pregenerate }, "Pre-generate…")));
}

async function check(event, box, pregenerate) {
  const a = event.target.closest("a[data-format]");
  if (!a) return;
  if (a.dataset.checked) { delete a.dataset.checked; return; } // checked: let it download
  event.preventDefault();
  let text;
  try {
    const head = await fetch(a.href, { method: "HEAD" });
    if (head.ok) { a.dataset.checked = "1"; a.click(); return; }
    const error = (await (await fetch(a.href)).json()).error;
    text = error.missingPages
      ? `Not downloaded: no stored audio for ${error.missingPages.includes(",") || error.missingPages.includes("-") ? "pages" : "page"} ${error.missingPages}.`
      : `Not downloaded: ${error.message}`;
  } catch (_) {
    text = "Not downloaded: the server cannot be reached.";
  }
  problem(box, text, pregenerate);
}

export function renderDownloads(app, { pregenerate }) {
  const box = document.getElementById("downloads");
  if (!box.dataset.wired) {
    box.dataset.wired = "true";
    box.addEventListener("click", (e) => check(e, box, pregenerate));
  }
  const chunks = app.doc.chunks;
  box.hidden = !chunks.length;
  if (!chunks.length) return;
  const base = `/api/documents/${encodeURIComponent(app.doc.documentId)}/export`;
  const missing = missingPages(chunks);
  const rows = [];
  if (!missing.size) rows.push(row("Download", ...links(base, "", "the document")));
  else {
    const pages = new Set(chunks.map((c) => c.page)).size;
    rows.push(row("Download",
      h("span", { class: "muted" }, `needs stored audio: ${missing.size} of ${pages} pages ${missing.size === 1 ? "has" : "have"} none yet.`),
      h("button", { type: "button", onclick: pregenerate }, "Pre-generate the rest…")));
  }
  const current = currentChapter(app);
  if (current && current.chunks.length < chunks.length && !missingPages(current.chunks).size) {
    rows.push(row(`Chapter “${current.chapter.title}”`, ...links(base, `&chapter=${current.number}`, "this chapter")));
  }
  const key = JSON.stringify(rows.map((r) => r.textContent));
  if (box.dataset.key === key) return; // unchanged: keep focus where it is
  box.dataset.key = key;
  box.replaceChildren(...rows);
}
