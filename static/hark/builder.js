// The survey builder and email survey page. No inline scripts (CSP): behaviour hangs off data
// attributes. Everything here is optional: the pages work with plain forms and links.
(function () {
  "use strict";

  // [data-copy="#selector"]: copy the value (or text) of the target to the clipboard.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    var target = document.querySelector(button.getAttribute("data-copy"));
    if (!target) return;
    var text = "value" in target ? target.value : target.textContent;
    var done = function () {
      var original = button.getAttribute("data-label") || button.textContent;
      button.setAttribute("data-label", original);
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = original; }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { target.select && target.select(); });
    } else if (target.select) {
      target.select();
      try { document.execCommand("copy"); done(); } catch (e) { /* the text stays selected */ }
    }
  });

  // Drag and drop reordering of questions (the up/down buttons do the same without JS).
  var dragged = null;
  document.addEventListener("dragstart", function (event) {
    var item = event.target.closest && event.target.closest(".bq[draggable=true]");
    if (!item || item.classList.contains("editing")) { if (item) event.preventDefault(); return; }
    dragged = item;
    item.classList.add("dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", item.getAttribute("data-question-id"));
  });
  document.addEventListener("dragover", function (event) {
    if (!dragged) return;
    var over = event.target.closest && event.target.closest(".bq");
    if (!over || over === dragged || over.parentNode !== dragged.parentNode) return;
    event.preventDefault();
    var rect = over.getBoundingClientRect();
    var after = event.clientY > rect.top + rect.height / 2;
    over.parentNode.insertBefore(dragged, after ? over.nextSibling : over);
  });
  document.addEventListener("dragend", function () {
    if (!dragged) return;
    var list = dragged.parentNode;
    dragged.classList.remove("dragging");
    dragged = null;
    var url = list.getAttribute("data-reorder-url");
    if (!url || !window.htmx) return;
    var order = Array.prototype.map.call(list.querySelectorAll(".bq"), function (el) {
      return el.getAttribute("data-question-id");
    });
    window.htmx.ajax("POST", url, { target: "#questions", swap: "outerHTML", values: { order: order } });
  });
})();
