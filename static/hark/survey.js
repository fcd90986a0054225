// Hark survey links: progressive enhancement over plain forms. Without this file (or without
// htmx) every step is a normal form post. With it: number keys answer scale questions, and
// focus moves to the new question after htmx swaps the step in.
(function () {
  "use strict";

  function step() { return document.getElementById("step"); }

  function focusStep() {
    var el = step();
    if (!el) return;
    var target = el.querySelector(".sv-option.selected, .sv-option, textarea, input[type=email], .sv-check input, h1[tabindex], .sv-btn");
    if (target) target.focus({ preventScroll: false });
  }

  // Digits pick a scale answer (NPS 0-9, CES 1-7, ratings), "0" after "1" within a second is 10.
  var lastDigit = null, lastAt = 0;
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    var tag = (event.target && event.target.tagName) || "";
    if (tag === "TEXTAREA" || tag === "INPUT") return;
    if (!/^[0-9]$/.test(event.key)) return;
    var group = document.querySelector("#step [data-one-click]");
    if (!group) return;
    var key = event.key, now = Date.now();
    if (key === "0" && lastDigit === "1" && now - lastAt < 1000 && group.querySelector('[data-key="10"]')) key = "10";
    lastDigit = event.key; lastAt = now;
    var button = group.querySelector('[data-key="' + key + '"]');
    if (!button) return;
    event.preventDefault();
    if (key === "1" && group.querySelector('[data-key="10"]')) {
      // Wait briefly: "1" may be the start of "10".
      button.focus();
      setTimeout(function () { if (lastDigit === "1" && document.activeElement === button) button.click(); }, 600);
      return;
    }
    button.click();
  });

  // Arrow keys move between the options of a scale.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "ArrowLeft" && event.key !== "ArrowRight") return;
    var current = event.target;
    if (!current || !current.classList || !current.classList.contains("sv-option")) return;
    var sibling = event.key === "ArrowRight" ? current.nextElementSibling : current.previousElementSibling;
    if (sibling && sibling.classList.contains("sv-option")) { event.preventDefault(); sibling.focus(); }
  });

  // Text answers: at most data-max-chars characters as a person sees them (grapheme clusters,
  // the way the server counts: surveys/answers.py), not the UTF-16 units a maxlength attribute
  // counts, where one emoji is two and a family emoji eleven. Longer input is cut, as maxlength
  // would; the hint under the field says how many are left.
  var segmenter = typeof Intl !== "undefined" && Intl.Segmenter
    ? new Intl.Segmenter(undefined, { granularity: "grapheme" }) : null;

  function characters(text) {
    if (!segmenter) return Array.from(text);  // code points: close, for old browsers
    return Array.from(segmenter.segment(text), function (part) { return part.segment; });
  }

  function limitText(field) {
    var max = parseInt(field.getAttribute("data-max-chars"), 10);
    if (!max) return;
    var parts = characters(field.value);
    if (parts.length > max) {
      parts = parts.slice(0, max);
      field.value = parts.join("");
    }
    var hint = document.getElementById("sv-count");
    if (hint) hint.textContent = (max - parts.length) + " of " + max + " characters left";
  }

  document.addEventListener("input", function (event) {
    var field = event.target;
    if (field && field.matches && field.matches("textarea[data-max-chars]")) limitText(field);
  });

  document.addEventListener("htmx:afterSettle", function (event) {
    if (event.detail && event.detail.target && event.detail.target.id === "step") focusStep();
  });
  // An error page (4xx) still has a #step to show: let htmx swap it instead of ignoring it.
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.xhr && event.detail.xhr.status >= 400) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
})();
