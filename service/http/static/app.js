// The search page: asks POST /ask, fetches each cited document for context, and builds the
// results with createElement/textContent only, so no text from a question or an article is
// ever parsed as HTML. API calls go through authorizedFetch (auth.js), which sends the
// access token where the service asks for one.
"use strict";

const CONTEXT_CHARS = 140;
const MODES = ["hybrid", "dense", "lexical"];
const $ = (id) => document.getElementById(id);
const documents = new Map(); // doc_id -> Promise of the document, or null when it cannot be had
let pending = null; // the AbortController of the request in flight
let shown = { question: "", mode: "hybrid" }; // what the results on screen answer

/** An element with attributes and children; strings become text nodes, never markup. */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value !== null && value !== undefined && value !== false) node.setAttribute(name, value);
  }
  node.append(...children.filter((child) => child !== null && child !== undefined));
  return node;
}

function selectedMode() {
  return document.querySelector('input[name="mode"]:checked').value;
}

function readLink(docId, start, end) {
  // q and mode let the article view link back to these results.
  const params = new URLSearchParams({ start: String(start), end: String(end), q: shown.question });
  if (shown.mode !== "hybrid") params.set("mode", shown.mode);
  return `/read/${encodeURIComponent(docId)}?${params}`;
}

function languageName(code) {
  try {
    return new Intl.DisplayNames(["en"], { type: "language" }).of(code) || code;
  } catch {
    return code;
  }
}

function fetchDocument(docId) {
  if (!documents.has(docId)) {
    const request = authorizedFetch(`/documents/${encodeURIComponent(docId)}`)
      .then((response) => (response.ok ? response.json() : null))
      .catch(() => null);
    documents.set(docId, request);
    request.then((found) => found || documents.delete(docId)); // retry a failure next time
  }
  return documents.get(docId);
}

/** The error text for a failed API call: the API's own `detail` where it gave one. */
async function describeFailure(response) {
  let detail = "";
  try {
    const body = await response.json();
    detail = typeof body.detail === "string" ? body.detail : "";
  } catch {
    // not JSON: fall back to the status line below
  }
  if (response.status === 503) {
    return ["The search service is unavailable.", detail || "No index is loaded."];
  }
  if (response.status >= 400 && response.status < 500) {
    return ["The service could not take this question.", detail || `HTTP ${response.status}`];
  }
  return ["Something went wrong on the server.", detail || `HTTP ${response.status}`];
}

function showError(title, detail) {
  const box = $("error");
  box.replaceChildren(el("p", { class: "error-title" }, title), detail ? el("p", {}, detail) : null);
  box.hidden = false;
}

function clearMessages() {
  $("error").hidden = true;
  $("error").replaceChildren();
  $("status").textContent = "";
}

/** Text cut to about `limit` characters at a word boundary, from its start or its end. */
function clip(text, limit, fromEnd) {
  if (text.length <= limit) return text;
  if (fromEnd) {
    const cut = text.slice(text.length - limit);
    const space = cut.search(/\s/);
    return "…" + (space >= 0 ? cut.slice(space + 1) : cut);
  }
  const cut = text.slice(0, limit);
  const space = Math.max(cut.lastIndexOf(" "), cut.lastIndexOf("\n"));
  return (space > 0 ? cut.slice(0, space) : cut) + "…";
}

/** The cited span: its `textContent` is exactly the citation's text. Each paragraph gets its
 * own <mark> (a mark across a blank line would leave stray highlight on the empty line), and
 * the answer's sentence, where it lies inside, is picked out within them. */
function markedSpan(item, answer) {
  const span = el("span", { class: "cited" });
  const sentence = answer ? answer.sentence : null;
  const inside =
    sentence && answer.doc_id === item.doc_id && sentence.start < item.end && sentence.end > item.start;
  const answerFrom = inside ? sentence.start - item.start : -1;
  const answerTo = inside ? sentence.end - item.start : -1;
  let offset = 0;
  for (const piece of item.text.split(/(\n+)/)) {
    if (piece.startsWith("\n") || !piece) {
      span.append(piece);
    } else {
      const from = Math.min(Math.max(answerFrom - offset, 0), piece.length);
      const to = Math.min(Math.max(answerTo - offset, 0), piece.length);
      const mark = el("mark", {}, piece.slice(0, from));
      if (to > from) mark.append(el("strong", { class: "answer-in-span" }, piece.slice(from, to)));
      mark.append(piece.slice(to));
      span.append(mark);
    }
    offset += piece.length;
  }
  return span;
}

function citationCard(item, doc, answer) {
  const snippet = el("p", { class: "snippet" });
  if (doc && doc.text.slice(item.start, item.end) === item.text) {
    const before = clip(doc.text.slice(0, item.start), CONTEXT_CHARS, true);
    const after = clip(doc.text.slice(item.end), CONTEXT_CHARS, false);
    snippet.append(
      el("span", { class: "context" }, before),
      markedSpan(item, answer),
      el("span", { class: "context" }, after),
    );
  } else {
    snippet.append(markedSpan(item, answer));
  }
  const language = item.language || (doc ? doc.language : null);
  snippet.setAttribute("lang", language || "");
  const meta = el(
    "p",
    { class: "meta" },
    language ? el("span", { class: "badge lang", title: languageName(language) }, language) : null,
    el("span", { class: "score", title: "retrieval score" }, `score ${item.score.toFixed(3)}`),
  );
  return el(
    "li",
    { class: "card citation" },
    el(
      "div",
      { class: "citation-head" },
      el("span", { class: "rank", "aria-hidden": "true" }, String(item.rank)), // the list says it
      el("h3", { class: "title" }, el("a", { href: readLink(item.doc_id, item.start, item.end) }, item.title)),
    ),
    meta,
    snippet,
  );
}

function answerCard(body, docs) {
  if (body.abstained || !body.answer) {
    return el(
      "article",
      { class: "card abstained", "aria-labelledby": "abstained-title" },
      el("h2", { id: "abstained-title", class: "abstained-title" }, "The archive does not answer this"),
      el(
        "p",
        {},
        body.citations.length
          ? "Nothing in the articles answers the question closely enough. The closest passages are below."
          : "Nothing in the articles comes close to the question.",
      ),
    );
  }
  const answer = body.answer;
  const sentence = answer.sentence;
  const doc = docs.get(answer.doc_id);
  const title = doc ? doc.title : answer.doc_id;
  // A short answer stands large, with the sentence that says it beneath, the answer marked in it.
  const short = answer.type !== "sentence";
  const from = answer.start - sentence.start;
  const to = answer.end - sentence.start;
  const language = answer.language || (doc ? doc.language : "en");
  return el(
    "article",
    { class: "card answer", "aria-labelledby": "answer-label" },
    el("h2", { id: "answer-label", class: "label" }, "Answer"),
    short
      ? el("p", { class: "answer-text answer-short", lang: language }, answer.text)
      : el("blockquote", { class: "answer-text", lang: language }, answer.text),
    short
      ? el(
          "blockquote",
          { class: "answer-sentence", lang: language },
          sentence.text.slice(0, from),
          el("mark", { class: "answer-span" }, sentence.text.slice(from, to)),
          sentence.text.slice(to),
        )
      : null,
    // An answer from an article in another language: the dictionary's word-by-word English,
    // apart from the cited text and said to be a gloss.
    answer.gloss
      ? el(
          "p",
          { class: "gloss", lang: "en" },
          el("span", { class: "gloss-label" }, `Word-by-word gloss from ${languageName(language)}: `),
          answer.gloss,
        )
      : null,
    el(
      "p",
      { class: "source" },
      "From ",
      el("a", { class: "source-link", href: readLink(answer.doc_id, sentence.start, sentence.end) }, title),
      el("span", { class: "badge lang", title: languageName(language) }, language),
      el("span", { class: "score" }, `score ${answer.score.toFixed(3)}`),
    ),
  );
}

async function render(body, mode) {
  const ids = [...new Set([body.answer, ...body.citations].filter(Boolean).map((item) => item.doc_id))];
  const docs = new Map(await Promise.all(ids.map(async (id) => [id, await fetchDocument(id)])));
  shown = { question: body.question, mode };
  $("asked").textContent = body.question;
  $("answer").replaceChildren(answerCard(body, docs));
  $("citations-heading").textContent = body.abstained ? "Closest passages" : "Sources";
  $("citations").replaceChildren(
    ...body.citations.map((item) => citationCard(item, docs.get(item.doc_id), body.answer)),
  );
  const count = body.citations.length;
  $("status").textContent =
    `${count} passage${count === 1 ? "" : "s"} · ${mode} · ${Math.round(body.took_ms)} ms`;
  $("intro").hidden = true;
  $("results").hidden = false;
}

async function ask(question, mode) {
  if (pending) pending.abort();
  clearMessages();
  if (!question.trim()) {
    $("results").hidden = true;
    showError("Type a question first.", "For example: How many communes met the new rural standards?");
    $("question").focus();
    return;
  }
  const controller = new AbortController();
  pending = controller;
  $("results").setAttribute("aria-busy", "true");
  $("status").textContent = "Searching the archive…";
  try {
    const response = await authorizedFetch("/ask", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ question, mode, top_k: 5 }),
      signal: controller.signal,
    });
    if (!response.ok) {
      const [title, detail] = await describeFailure(response);
      if (pending !== controller) return;
      $("results").hidden = true;
      $("status").textContent = "";
      showError(title, detail);
      return;
    }
    const body = await response.json();
    if (pending !== controller) return;
    await render(body, mode);
  } catch (error) {
    if (error.name === "AbortError") return;
    $("results").hidden = true;
    $("status").textContent = "";
    showError("Could not reach the search service.", "Check that newsqa is running, then try again.");
  } finally {
    if (pending === controller) {
      pending = null;
      $("results").removeAttribute("aria-busy");
    }
  }
}

/** Ask what the address bar says (`/?q=...&mode=...`), as on first load and Back/Forward. */
function askFromLocation() {
  const params = new URLSearchParams(window.location.search);
  const mode = params.get("mode");
  if (MODES.includes(mode)) $(`mode-${mode}`).checked = true;
  const question = params.get("q");
  $("question").value = question || "";
  if (question !== null) {
    ask(question, selectedMode());
  } else {
    clearMessages();
    $("results").hidden = true;
    $("intro").hidden = false;
  }
}

function submit() {
  const question = $("question").value;
  const mode = selectedMode();
  if (question.trim()) {
    const params = new URLSearchParams({ q: question });
    if (mode !== "hybrid") params.set("mode", mode);
    const url = `/?${params}`;
    if (url !== window.location.pathname + window.location.search) window.history.pushState(null, "", url);
  }
  ask(question, mode);
}

async function showArchiveInfo() {
  try {
    const response = await fetch("/health");
    if (!response.ok) {
      $("archive-info").textContent = "No archive loaded";
      return;
    }
    const health = await response.json();
    $("archive-info").textContent = `${health.documents} articles · ${health.passages} passages`;
  } catch {
    $("archive-info").textContent = "Service unreachable";
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("ask-form").addEventListener("submit", (event) => {
    event.preventDefault();
    submit();
  });
  for (const radio of document.querySelectorAll('input[name="mode"]')) {
    radio.addEventListener("change", () => {
      if ($("question").value.trim()) submit();
    });
  }
  window.addEventListener("popstate", askFromLocation);
  askFromLocation();
  showArchiveInfo();
});
