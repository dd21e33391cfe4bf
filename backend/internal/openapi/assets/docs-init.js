// Starts Swagger UI on the /docs page. It lives in its own file, not inline
// in the page, so the page's Content-Security-Policy can forbid inline
// scripts. The spec URL comes from the page (relative, so the docs also work
// behind a path prefix such as the frontend's /api proxy).
"use strict";
(function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.specUrl,
    domNode: root,
    deepLinking: true,
    // Keep the token from "Authorize" across reloads (in localStorage).
    persistAuthorization: true,
    // No request to the public validator.swagger.io badge service.
    validatorUrl: null,
    displayRequestDuration: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout"
  });
})();
