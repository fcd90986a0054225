// Hark dashboard behaviour. No inline scripts (CSP): everything hangs off data attributes
// and htmx events.
(function () {
  "use strict";

  // Close <details> menus when clicking elsewhere.
  document.addEventListener("click", function (event) {
    document.querySelectorAll("details.envswitch[open]").forEach(function (el) {
      if (!el.contains(event.target)) el.removeAttribute("open");
    });
  });

  // The User Detail Panel: links with hx-target="#panel" load the panel's fragment into the
  // <dialog id="panel">; open it as a modal slide-over once the content has arrived.
  var lastOpener = null;
  document.addEventListener("htmx:beforeRequest", function (event) {
    var target = event.detail.target;
    if (target && target.id === "panel") lastOpener = event.detail.elt;
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target;
    if (target && target.id === "panel" && !target.open) {
      target.showModal();
      var focusable = target.querySelector("[autofocus], .panel-close, a, button");
      if (focusable) focusable.focus();
    }
  });
  document.addEventListener("click", function (event) {
    var panel = document.getElementById("panel");
    if (!panel || !panel.open) return;
    // A click on the backdrop (the dialog element itself) or on a close control closes it.
    if (event.target === panel || event.target.closest("[data-panel-close]")) {
      event.preventDefault();
      panel.close();
    }
  });
  document.addEventListener("close", function (event) {
    if (event.target && event.target.id === "panel") {
      event.target.innerHTML = "";
      if (lastOpener && document.body.contains(lastOpener)) lastOpener.focus();
    }
  }, true);
})();
