// Shared helpers. Every text from a dialogue or a file goes into the page as a text node
// (el() never parses HTML), so a message containing markup shows as the characters it has.
"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  setAttrs(node, attrs);
  appendAll(node, children);
  return node;
}

function svg(tag, attrs, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  setAttrs(node, attrs);
  appendAll(node, children);
  return node;
}

function setAttrs(node, attrs) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
}

function appendAll(node, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

async function getJSON(url, options) {
  const response = await fetch(url, options);
  let body = null;
  try { body = await response.json(); } catch (_) { body = null; }
  if (!response.ok) {
    const message = (body && (body.error || body.detail)) || response.statusText;
    const error = new Error(`${response.status}: ${message}`);
    error.status = response.status;
    throw error;
  }
  return body;
}

function postJSON(url, payload) {
  return getJSON(url, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(payload),
  });
}

function fmt(value, digits = 3) {
  return typeof value === "number" && isFinite(value) ? value.toFixed(digits) : "n/a";
}

function interval(iv) {
  if (!iv || typeof iv.value !== "number") return "n/a";
  return `${fmt(iv.value)} [${fmt(iv.low)}, ${fmt(iv.high)}]`;
}

function errorBox(error) {
  return el("p", { class: "error", role: "alert" }, String(error.message || error));
}

let strategyList = null;
async function strategies() {
  if (!strategyList) strategyList = (await getJSON("api/strategies")).strategies;
  return strategyList;
}

const titleCache = new Map();
async function titles(ids) {
  const missing = ids.filter((id) => !titleCache.has(id));
  if (missing.length) {
    try {
      const found = await getJSON("api/movies?ids=" + encodeURIComponent(missing.join(",")));
      for (const id of missing) titleCache.set(id, found[id] || null);
    } catch (_) {
      for (const id of missing) titleCache.set(id, null);
    }
  }
  return (id) => {
    const movie = titleCache.get(id);
    return movie ? `${movie.title}${movie.year ? ` (${movie.year})` : ""}` : id;
  };
}
