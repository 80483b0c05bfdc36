// The article view: bring the cited passage to the middle of the screen and give it focus,
// so a keyboard or screen-reader user lands on it too.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const cited = document.getElementById("cited");
  if (!cited) return;
  cited.scrollIntoView({ block: "center" });
  cited.focus({ preventScroll: true });
});
