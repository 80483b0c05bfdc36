// The search page: asks POST /ask, fetches each cited document for context, and builds the
// results with createElement/textContent only, so no text from a question or an article is
// ever parsed as HTML. API calls go through authorizedFetch (auth.js), which sends the
// access token where the service asks for one. Its other view, Latest articles
// (`/?view=latest`), lists the archive newest first from GET /documents. The date range and
// language controls narrow both, and live in the address (`&from=...&to=...&language=no`).
"use strict";

const CONTEXT_CHARS = 140;
const MODES = ["hybrid", "dense", "lexical"];
const LATEST_PAGE = 20;
const $ = (id) => document.getElementById(id);
const documents = new Map(); // doc_id -> Promise of the document, or null when it cannot be had
let pending = null; // the AbortController of the request in flight
let shown = { question: "", mode: "hybrid" }; // what the results on screen answer
let latestCursor = null; // `next_cursor` of the last page of Latest articles shown

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

/** The date range and language chosen: `{ from, to, language }`, "" where none is. */
function chosenFilters() {
  return { from: $("date-from").value, to: $("date-to").value, language: $("language").value };
}

/** The language control's option for `code`, added when the archive info has not brought it. */
function languageOption(code) {
  const found = [...$("language").options].find((option) => option.value === code);
  if (found) return found;
  const option = el("option", { value: code }, `${languageName(code)} (${code})`);
  $("language").append(option);
  return option;
}

/** Set the controls to the filters an address names (`from`, `to`, `language`). */
function restoreFilters(params) {
  $("date-from").value = params.get("from") || "";
  $("date-to").value = params.get("to") || "";
  const language = params.get("language") || "";
  if (language) languageOption(language);
  $("language").value = language;
}

/** The chosen filters as address parameters, in the page's own names. */
function addFilters(params) {
  const { from, to, language } = chosenFilters();
  if (from) params.set("from", from);
  if (to) params.set("to", to);
  if (language) params.set("language", language);
  return params;
}

/** The chosen filters as the API names them: `date_from`, `date_to`, `language` (a list). */
function apiFilters() {
  const { from, to, language } = chosenFilters();
  return {
    ...(from ? { date_from: from } : {}),
    ...(to ? { date_to: to } : {}),
    ...(language ? { language: [language] } : {}),
  };
}

function go(url) {
  if (url !== window.location.pathname + window.location.search) window.history.pushState(null, "", url);
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
async function describeFailure(response, asked = "this question") {
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
    return [`The service could not take ${asked}.`, detail || `HTTP ${response.status}`];
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
    doc && doc.date ? dateOf(doc) : null,
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

/** A document's publication day, said to be the file's date where no other was found. */
function dateOf(doc) {
  const day = el("time", { class: "date", datetime: doc.date }, doc.date);
  if (doc.date_source !== "file") return day;
  day.title = "No publication date was found: this is the day the file was last changed.";
  return el("span", { class: "date-file" }, day, " (file date)");
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
  $("latest").hidden = true;
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
      body: JSON.stringify({ question, mode, top_k: 5, ...apiFilters() }),
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

function latestItem(doc) {
  const passages = `${doc.passages} passage${doc.passages === 1 ? "" : "s"}`;
  return el(
    "li",
    { class: "card latest-item" },
    el("h2", { class: "title" }, el("a", { href: `/read/${encodeURIComponent(doc.doc_id)}` }, doc.title)),
    el(
      "p",
      { class: "meta" },
      doc.date ? dateOf(doc) : el("span", { class: "date undated" }, "undated"),
      el("span", { class: "badge lang", title: languageName(doc.language) }, doc.language),
      doc.site ? el("span", { class: "site" }, doc.site) : null,
      el("span", { class: "passages" }, passages),
    ),
  );
}

function latestScope() {
  const { from, to, language } = chosenFilters();
  const parts = ["Newest first"];
  if (from) parts.push(`from ${from}`);
  if (to) parts.push(`to ${to}`);
  if (language) parts.push(`in ${languageName(language)}`);
  return parts.join(" · ");
}

/** Latest articles: the first page, or with `more` the page after the last one shown. */
async function showLatest(more = false) {
  if (pending) pending.abort();
  const controller = new AbortController();
  pending = controller;
  clearMessages();
  $("intro").hidden = true;
  $("results").hidden = true;
  $("latest").hidden = false;
  const params = new URLSearchParams({ limit: String(LATEST_PAGE) });
  for (const [name, value] of Object.entries(apiFilters())) params.set(name, String(value));
  if (more) params.set("cursor", latestCursor);
  else {
    $("latest-scope").textContent = latestScope();
    $("latest-list").replaceChildren();
    $("latest-empty").hidden = true;
    $("latest-more").hidden = true;
  }
  $("latest").setAttribute("aria-busy", "true");
  try {
    const response = await authorizedFetch(`/documents?${params}`, { signal: controller.signal });
    if (!response.ok) {
      const [title, detail] = await describeFailure(response, "these filters");
      if (pending === controller) showError(title, detail);
      return;
    }
    const page = await response.json();
    if (pending !== controller) return;
    $("latest-list").append(...page.documents.map(latestItem));
    latestCursor = page.next_cursor;
    $("latest-more").hidden = !latestCursor;
    const count = $("latest-list").children.length;
    $("latest-empty").hidden = count > 0;
    $("status").textContent = `${count} article${count === 1 ? "" : "s"} shown${latestCursor ? ", more to come" : ""}`;
  } catch (error) {
    if (error.name !== "AbortError") {
      showError("Could not reach the search service.", "Check that newsqa is running, then try again.");
    }
  } finally {
    if (pending === controller) {
      pending = null;
      $("latest").removeAttribute("aria-busy");
    }
  }
}

/** Show what the address bar says (`/?q=...&mode=...&from=...`, or `/?view=latest&...`), as
 * on first load and Back/Forward. */
function showFromLocation() {
  const params = new URLSearchParams(window.location.search);
  const mode = params.get("mode");
  if (MODES.includes(mode)) $(`mode-${mode}`).checked = true;
  restoreFilters(params);
  const question = params.get("q");
  $("question").value = question || "";
  if (params.get("view") === "latest") {
    showLatest();
  } else if (question !== null) {
    ask(question, selectedMode());
  } else {
    if (pending) pending.abort();
    clearMessages();
    $("results").hidden = true;
    $("latest").hidden = true;
    $("intro").hidden = false;
  }
}

function submit() {
  const question = $("question").value;
  const mode = selectedMode();
  if (question.trim()) {
    const params = new URLSearchParams({ q: question });
    if (mode !== "hybrid") params.set("mode", mode);
    go(`/?${addFilters(params)}`);
  }
  ask(question, mode);
}

function openLatest() {
  go(`/?${addFilters(new URLSearchParams({ view: "latest" }))}`);
  showLatest();
}

/** A changed date or language: the view on screen again, with it. */
function refilter() {
  if (!$("latest").hidden) openLatest();
  else if ($("question").value.trim()) submit();
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
    for (const code of (health.crosslingual || {}).languages || []) languageOption(code);
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
  for (const control of ["date-from", "date-to", "language"]) $(control).addEventListener("change", refilter);
  $("latest-link").addEventListener("click", (event) => {
    event.preventDefault();
    openLatest();
  });
  $("latest-more").addEventListener("click", () => showLatest(true));
  window.addEventListener("popstate", showFromLocation);
  showFromLocation();
  showArchiveInfo();
});
