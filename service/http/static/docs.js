// Starts Swagger UI on /docs from the bundle newsqa serves itself (no CDN), as a file rather
// than an inline script so the page's Content-Security-Policy can forbid inline scripts.
"use strict";

window.addEventListener("DOMContentLoaded", () => {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
    layout: "BaseLayout",
    deepLinking: true,
  });
});
