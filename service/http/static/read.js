// The article view: bring the cited passage to the middle of the screen and give it focus,
// so a keyboard or screen-reader user lands on it too. Where the archive needs an access
// token, the server sends a locked page; this asks for the article again with the token.
"use strict";

function showCited() {
  const cited = document.getElementById("cited");
  if (!cited) return;
  cited.scrollIntoView({ block: "center" });
  cited.focus({ preventScroll: true });
}

async function unlock(locked) {
  let response;
  try {
    response = await authorizedFetch(window.location.href);
  } catch {
    locked.querySelector(".locked-status").textContent = "Could not reach the service.";
    return;
  }
  if (response.status === 401) {
    locked.querySelector(".locked-status").textContent = "No valid access token was given.";
    return;
  }
  // The server's own rendering of the article (escaped there), swapped in whole.
  const page = new DOMParser().parseFromString(await response.text(), "text/html");
  document.title = page.title;
  document.querySelector("main").replaceWith(page.querySelector("main"));
  showCited();
}

document.addEventListener("DOMContentLoaded", () => {
  const locked = document.getElementById("locked");
  if (locked) unlock(locked);
  else showCited();
});
