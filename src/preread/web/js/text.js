// The document's text as preread speaks it: chunks (blocks) by page, sentences as spans,
// words as spans where the manifest has word times. Sentence times come from the manifest;
// for a chunk without them (not generated yet, played live) they are spread by length.

import { h } from "./api.js";

// A manifest (chunks) or a registration (blocks) as one list of chunks.
export function normalize(raw) {
  const chunks = raw.chunks
    ? raw.chunks
    : (raw.blocks || []).map((b) => ({
        index: b.index, page: b.page, blockIndex: b.blockIndex, text: b.text, status: "pending",
        sentences: b.sentences.map((s) => ({ text: s, start: 0, end: 0 })),
      }));
  return {
    documentId: raw.documentId,
    title: raw.title || raw.sourceName || "Untitled",
    pages: raw.pages || 0,
    chapters: raw.chapters || [],
    manifest: Boolean(raw.chunks),
    voice: raw.voice || null,
    speed: raw.nativeSpeed ?? null,
    provider: raw.ttsProvider || null,
    raw,
    chunks: chunks.map((c) => ({
      ...c,
      sentences: (c.sentences && c.sentences.length ? c.sentences : [{ text: c.text, start: 0, end: 0 }])
        .map((s) => (typeof s === "string" ? { text: s, start: 0, end: 0 } : s)),
    })),
  };
}

export function hasTimes(chunk) {
  const last = chunk.sentences[chunk.sentences.length - 1];
  return chunk.status === "done" && last && last.end > 0;
}

// Times for a chunk's sentences: the manifest's, else spread over `duration` by length.
export function sentenceTimes(chunk, duration) {
  if (hasTimes(chunk)) return chunk.sentences.map((s) => [s.start, s.end]);
  const total = chunk.sentences.reduce((n, s) => n + s.text.length + 1, 0) || 1;
  let t = 0;
  const d = duration && isFinite(duration) ? duration : total * 0.065;
  return chunk.sentences.map((s) => {
    const start = t;
    t += (d * (s.text.length + 1)) / total;
    return [start, t];
  });
}

export function chapterAt(doc, page) {
  let found = null;
  for (const c of doc.chapters) if (c.page <= page) found = c;
  return found;
}

// Word times: the manifest keeps them flat, in milliseconds from the chunk's start,
// [start0, end0, start1, end1, …], one pair per whitespace-separated word of the text.
export function wordTimes(sentence) {
  const flat = sentence.words;
  if (!Array.isArray(flat) || !flat.length || flat.length % 2) return null;
  const pairs = [];
  for (let i = 0; i < flat.length; i += 2) pairs.push([flat[i] / 1000, flat[i + 1] / 1000]);
  return pairs;
}

// The sentence as text, or as word spans when it has one time pair per word.
function sentenceChildren(sentence) {
  const times = wordTimes(sentence);
  const parts = sentence.text.split(/(\s+)/);
  const words = parts.filter((p) => p && !/^\s+$/.test(p));
  if (!times || words.length !== times.length) return [sentence.text];
  let wi = 0;
  return parts.filter((p) => p).map((p) => (/^\s+$/.test(p) ? p : h("span", { class: "w", dataset: { w: wi++ } }, p)));
}

// One block: a paragraph of sentence spans.
export function blockElement(chunk, ci) {
  const p = h("p", { class: `block ${chunk.status === "done" ? "done" : "pending"}`, dataset: { ci } });
  const spans = chunk.sentences.map((s, si) => {
    const span = h("span", { class: "s", dataset: { ci, si } }, ...sentenceChildren(s));
    p.append(span, " ");
    return span;
  });
  return { p, spans };
}

// Renders into `container`; returns spans[ci][si] and pageEls {page: section}.
export function render(container, doc) {
  const spans = [];
  const pageEls = {};
  const chapterPages = new Map(doc.chapters.map((c) => [c.page, c]));
  let section = null;
  let page = null;
  const frag = document.createDocumentFragment();
  doc.chunks.forEach((chunk, ci) => {
    if (chunk.page !== page) {
      page = chunk.page;
      section = h("section", { class: "page", id: `page-${page}`, "aria-label": `Page ${page}` });
      const chapter = chapterPages.get(page);
      if (chapter) section.append(h("h2", { class: "chapter-title" }, chapter.title));
      section.append(h("h3", { class: "page-no" }, `Page ${page}`));
      pageEls[page] = section;
      frag.append(section);
    }
    const block = blockElement(chunk, ci);
    spans[ci] = block.spans;
    section.append(block.p);
  });
  container.replaceChildren(frag);
  return { spans, pageEls };
}
