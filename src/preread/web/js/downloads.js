// Download buttons: the document, and the chapter at the reading position, as an
// audiobook (M4B), MP3 with chapter marks, or subtitles (WebVTT, SRT). A click starts an
// export job (POST /api/exports): a progress bar with the time left and a Cancel button
// follow it (Server-Sent Events), and the file downloads when it is done (an export made
// before is kept by the server and downloads at once). Exports are made from stored
// audio only: where pages have none, the buttons give way to a line saying how many and
// a "Pre-generate" button; a chunk missing from the store that the manifest still lists
// is said when the export is asked for, not as a failed download.

import { askToken, authHeaders, formatBytes, formatDuration, h } from "./api.js";
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

function links(base, chapter, what) {
  const query = chapter ? `&chapter=${chapter}` : "";
  return FORMATS.map(([fmt, label, title]) => h("a", {
    class: "button", href: `${base}?format=${fmt}${query}`, download: "", title,
    "aria-label": `Download ${what} as ${label}`, dataset: chapter ? { format: fmt, chapter } : { format: fmt },
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

// POST with the token (asked once on a 401): [status, body].
async function post(url, body) {
  for (let attempt = 0; ; attempt++) {
    const response = await fetch(url, {
      method: "POST", body: body === undefined ? undefined : JSON.stringify(body),
      headers: authHeaders({ "Content-Type": "application/json" }),
    });
    const data = await response.json().catch(() => ({}));
    if (response.status === 401 && attempt === 0 && await askToken(data.error?.message)) continue;
    return [response.status, data];
  }
}

function save(job) {
  const a = h("a", { href: job.downloadUrl, download: job.fileName, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
}

// The export's row: a progress bar, what is done and left, Cancel; then the outcome.
function follow(box, job, label) {
  box.querySelector(".export-job")?.remove();
  const bar = h("progress", { max: 1, value: job.fraction || 0, "aria-label": `Exporting ${label}` });
  const text = h("span", { class: "export-text", role: "status" }, "Starting…");
  const stop = h("button", { type: "button", class: "export-cancel" }, "Cancel");
  const line = row("", bar, text, stop);
  line.classList.add("export-job");
  box.append(line);
  const show = (j) => {
    bar.value = j.fraction;
    const pct = Math.floor(j.fraction * 100);
    const eta = j.eta != null ? `, about ${formatDuration(j.eta)} left` : "";
    text.textContent = j.state === "queued" ? `${label}: waiting for another export…`
      : `Exporting ${label}: ${pct} % (${j.done} of ${j.total} chunks${eta})`;
  };
  const end = (j) => {
    stop.remove();
    bar.value = j.state === "done" ? 1 : bar.value;
    if (j.state === "done") {
      text.textContent = `${j.fileName} (${formatBytes(j.size)}) is ready. `;
      text.append(h("a", { href: j.downloadUrl, download: j.fileName }, "Download again"));
      save(j);
    } else {
      text.textContent = j.state === "cancelled" ? "Export cancelled." : `Not exported: ${j.error || j.state}.`;
    }
  };
  if (job.state === "done") { end(job); return; }
  show(job);
  const events = new EventSource(`/api/exports/${job.jobId}/events`);
  events.addEventListener("status", (e) => show(JSON.parse(e.data)));
  events.addEventListener("end", (e) => { events.close(); end(JSON.parse(e.data)); });
  events.onerror = () => {
    if (events.readyState === EventSource.CLOSED) text.textContent = "Lost the export's progress; try again.";
  };
  stop.onclick = async () => {
    stop.disabled = true;
    const [status, body] = await post(`/api/exports/${job.jobId}/cancel`);
    if (status !== 200) { stop.disabled = false; text.textContent = body.error?.message || "Not cancelled."; }
  };
}

async function start(event, box, app, pregenerate) {
  const a = event.target.closest("a[data-format]");
  if (!a) return;
  event.preventDefault();
  const { format, chapter } = a.dataset;
  const label = (a.getAttribute("aria-label") || a.textContent).replace(/^Download /, "");
  box.querySelector(".download-problem")?.closest(".download-row").remove();
  let text;
  try {
    const body = { documentId: app.doc.documentId, format };
    if (chapter) body.chapter = Number(chapter);
    const [status, data] = await post("/api/exports", body);
    if (status === 200 || status === 202) { follow(box, data, label); return; }
    const error = data.error || { message: `the server answered ${status}` };
    const pages = error.missingPages;
    text = pages
      ? `Not downloaded: no stored audio for ${pages.includes(",") || pages.includes("-") ? "pages" : "page"} ${pages}.`
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
    box.addEventListener("click", (e) => start(e, box, app, pregenerate));
  }
  const chunks = app.doc.chunks;
  box.hidden = !chunks.length;
  if (!chunks.length) return;
  const base = `/api/documents/${encodeURIComponent(app.doc.documentId)}/export`;
  const missing = missingPages(chunks);
  const rows = [];
  if (!missing.size) rows.push(row("Download", ...links(base, 0, "the document")));
  else {
    const pages = new Set(chunks.map((c) => c.page)).size;
    rows.push(row("Download",
      h("span", { class: "muted" }, `needs stored audio: ${missing.size} of ${pages} pages ${missing.size === 1 ? "has" : "have"} none yet.`),
      h("button", { type: "button", onclick: pregenerate }, "Pre-generate the rest…")));
  }
  const current = currentChapter(app);
  if (current && current.chunks.length < chunks.length && !missingPages(current.chunks).size) {
    rows.push(row(`Chapter “${current.chapter.title}”`, ...links(base, current.number, "this chapter")));
  }
  const key = JSON.stringify(rows.map((r) => r.textContent));
  if (box.dataset.key === key) return; // unchanged: keep focus where it is
  box.dataset.key = key;
  box.replaceChildren(...rows, ...box.querySelectorAll(".export-job")); // a job's row stays
}
