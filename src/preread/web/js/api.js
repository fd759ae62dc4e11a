// Talking to preread: JSON with the bearer token (asked once, kept in sessionStorage),
// retries with backoff for 503 and network errors, and small formatting helpers.

const TOKEN_KEY = "preread.token";

export function token() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

export function authHeaders(extra = {}) {
  const t = token();
  return t ? { ...extra, Authorization: `Bearer ${t}` } : { ...extra };
}

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function errorOf(response) {
  try {
    const body = await response.json();
    if (body && body.error) return new ApiError(response.status, body.error.code, body.error.message);
  } catch (_) {
    /* not JSON */
  }
  return new ApiError(response.status, "http_" + response.status, `${response.status} ${response.statusText}`);
}

// Ask for the token in the page's token dialog; resolves true when one was entered.
export function askToken(reason) {
  const dialog = document.getElementById("token-dialog");
  if (!dialog) return Promise.resolve(false);
  const input = dialog.querySelector("input");
  const why = dialog.querySelector(".why");
  if (why) why.textContent = reason || "This server needs its API token for changes.";
  input.value = "";
  return new Promise((resolve) => {
    const done = () => {
      dialog.removeEventListener("close", done);
      const value = input.value.trim();
      if (dialog.returnValue === "ok" && value) {
        sessionStorage.setItem(TOKEN_KEY, value);
        resolve(true);
      } else resolve(false);
    };
    dialog.addEventListener("close", done);
    dialog.showModal();
    input.focus();
  });
}

export function forgetToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

// fetch with the token; a 401 asks for the token once and tries again.
export async function request(url, options = {}) {
  for (let attempt = 0; ; attempt++) {
    const response = await fetch(url, { ...options, headers: authHeaders(options.headers || {}) });
    if (response.status === 401 && attempt === 0) {
      const err = await errorOf(response);
      if (await askToken(err.message)) continue;
      throw err;
    }
    if (!response.ok) throw await errorOf(response);
    return response;
  }
}

export async function getJSON(url) {
  return (await request(url)).json();
}

export async function sendJSON(method, url, body) {
  const response = await request(url, {
    method,
    headers: { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return response.status === 204 ? null : response.json();
}

export const RETRY_DELAYS = [500, 1000, 2000, 4000, 8000, 15000];
const RETRYABLE = new Set([429, 502, 503, 504]);

// fetch that retries a 503/429/network error with backoff, telling onRetry(seconds, why).
export async function fetchWithRetry(url, { onRetry = () => {}, signal } = {}) {
  for (let attempt = 0; ; attempt++) {
    let response = null;
    let why;
    try {
      response = await fetch(url, { signal });
      if (!RETRYABLE.has(response.status)) return response;
      const after = Number(response.headers.get("Retry-After"));
      why = response.status === 429 ? "rate limited" : "server busy";
      if (after > 0 && attempt < RETRY_DELAYS.length) {
        onRetry(after, why, attempt + 1);
        await sleep(after * 1000, signal);
        continue;
      }
    } catch (err) {
      if (signal && signal.aborted) throw err;
      why = navigator.onLine === false ? "offline" : "network error";
    }
    if (attempt >= RETRY_DELAYS.length) {
      if (response) return response;
      throw new ApiError(0, "network", `cannot reach the server (${why})`);
    }
    const delay = RETRY_DELAYS[attempt];
    onRetry(delay / 1000, why, attempt + 1);
    await sleep(delay, signal);
  }
}

export function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    if (signal) signal.addEventListener("abort", () => { clearTimeout(timer); reject(new DOMException("aborted", "AbortError")); }, { once: true });
  });
}

// A stored chunk's URL carries its sha256 (the server ignores it): chunks are cached as
// immutable, so audio made again with another voice or speed gets a new URL.
export function chunkUrl(documentId, chunk) {
  const v = chunk.status === "done" && chunk.sha256 ? `&v=${chunk.sha256.slice(0, 16)}` : "";
  return `/api/tts/chunk?documentId=${documentId}&page=${chunk.page}&blockIndex=${chunk.blockIndex}${v}`;
}

export function formatBytes(n) {
  if (n == null) return "–";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
  return `${n < 10 && i ? n.toFixed(1) : Math.round(n)} ${units[i]}`;
}

export function formatDuration(seconds) {
  if (seconds == null || !isFinite(seconds)) return "–";
  seconds = Math.round(seconds);
  const h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
  if (h) return `${h} h ${m} min`;
  if (m) return `${m} min ${s ? s + " s" : ""}`.trim();
  return `${s} s`;
}

export function formatAgo(epochSeconds) {
  if (!epochSeconds) return "never";
  const diff = Date.now() / 1000 - epochSeconds;
  if (diff < 60) return "just now";
  if (diff < 3600) return `${Math.floor(diff / 60)} min ago`;
  if (diff < 86400) return `${Math.floor(diff / 3600)} h ago`;
  if (diff < 86400 * 30) return `${Math.floor(diff / 86400)} days ago`;
  return new Date(epochSeconds * 1000).toLocaleDateString();
}

// Elements: h("button", {class: "x", onclick: f}, "text", child)
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value == null || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else el.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child == null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

// Light/dark: follows the system unless the person chose; the choice is remembered.
export function setupTheme() {
  const saved = localStorage.getItem("preread.theme");
  if (saved) document.documentElement.dataset.theme = saved;
  // (the server puts the choice in its pages from this cookie: it holds from the first paint)
  const remember = (theme) => { document.cookie = `preread-theme=${theme}; path=/; max-age=31536000; samesite=strict`; };
  if (saved && !document.cookie.split("; ").includes(`preread-theme=${saved}`)) remember(saved);
  const button = document.getElementById("theme");
  if (!button) return;
  const label = () => {
    const dark = document.documentElement.dataset.theme
      ? document.documentElement.dataset.theme === "dark"
      : matchMedia("(prefers-color-scheme: dark)").matches;
    button.setAttribute("aria-pressed", String(dark));
    button.title = dark ? "Switch to the light theme" : "Switch to the dark theme";
  };
  label();
  button.addEventListener("click", () => {
    const dark = button.getAttribute("aria-pressed") === "true";
    document.documentElement.dataset.theme = dark ? "light" : "dark";
    localStorage.setItem("preread.theme", document.documentElement.dataset.theme);
    remember(document.documentElement.dataset.theme);
    label();
  });
}

export function registerServiceWorker() {
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(() => {});
  }
}
