// Access tokens for the page: when the service has NEWSQA_API_TOKEN set, a read request
// answered 401 asks for the token once, keeps it in sessionStorage (gone when the tab
// closes) and sends it as `Authorization: Bearer <token>` from then on.
"use strict";

const TOKEN_KEY = "newsqa-token";

/** `fetch`, with the stored token, asking for one when the service wants it. */
async function authorizedFetch(url, options = {}) {
  const send = (token) => {
    const headers = new Headers(options.headers || {});
    if (token) headers.set("authorization", `Bearer ${token}`);
    return fetch(url, { ...options, headers });
  };
  const stored = sessionStorage.getItem(TOKEN_KEY);
  const response = await send(stored);
  if (response.status !== 401) return response;
  sessionStorage.removeItem(TOKEN_KEY);
  const given = window.prompt(
    stored ? "That access token was not accepted. Access token:" : "This archive needs an access token:",
  );
  if (!given || !given.trim()) return response;
  const retried = await send(given.trim());
  if (retried.ok) sessionStorage.setItem(TOKEN_KEY, given.trim());
  return retried;
}
