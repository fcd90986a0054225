// Hark dashboard behaviour. No inline scripts (CSP): everything hangs off data attributes.
(function () {
  "use strict";
  // Close <details> menus when clicking elsewhere.
  document.addEventListener("click", function (event) {
    document.querySelectorAll("details.envswitch[open]").forEach(function (el) {
      if (!el.contains(event.target)) el.removeAttribute("open");
    });
  });
})();
