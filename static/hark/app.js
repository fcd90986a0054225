// Hark dashboard behaviour. No inline scripts (CSP): everything hangs off data attributes
// and htmx events.
(function () {
  "use strict";

  // Close <details> menus when clicking elsewhere.
  document.addEventListener("click", function (event) {
    document.querySelectorAll("details.envswitch[open], details.navmenu[open]").forEach(function (el) {
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

// --- Users, Traits, Events, Settings -----------------------------------------------------------
(function () {
  "use strict";

  // Confirmation dialogs: [data-dialog-open="<dialog id>"] opens it (its href is the no-JS
  // fallback: a confirmation page); [data-dialog-close] closes the enclosing dialog.
  document.addEventListener("click", function (event) {
    var opener = event.target.closest("[data-dialog-open]");
    if (opener) {
      var dialog = document.getElementById(opener.getAttribute("data-dialog-open"));
      if (dialog && typeof dialog.showModal === "function") {
        event.preventDefault();
        dialog.showModal();
        var cancel = dialog.querySelector("[data-dialog-close]");
        if (cancel) cancel.focus();
      }
      return;
    }
    var closer = event.target.closest("[data-dialog-close]");
    if (closer) {
      var open = closer.closest("dialog");
      if (open && open.id !== "panel") {
        event.preventDefault();
        open.close();
      }
    }
  });

  // Copy buttons: [data-copy-target="<element id>"] copies that element's text.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy-target]");
    if (!button) return;
    var source = document.getElementById(button.getAttribute("data-copy-target"));
    if (!source || !navigator.clipboard) return;
    navigator.clipboard.writeText(source.textContent.trim()).then(function () {
      var label = button.textContent;
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = label; }, 1500);
    });
  });

  // Escape in an inline edit row cancels it (clicks its Cancel link).
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    var row = event.target.closest && event.target.closest("tr.editing");
    if (!row) return;
    var cancel = row.querySelector(".form-actions a[hx-get]");
    if (cancel) { event.preventDefault(); cancel.click(); }
  });
})();
