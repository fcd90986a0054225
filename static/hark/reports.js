// Reports (Overview, Response List): keep the period preset and the custom dates consistent.
// Picking dates switches the period to "Custom range"; picking a preset clears the dates.
// No inline scripts (CSP); the form itself sends the request (htmx, on change).
(function () {
  "use strict";

  function datesOf(form) {
    return form.querySelectorAll("[data-period-dates] input[type=date]");
  }

  document.addEventListener("change", function (event) {
    var el = event.target;
    var form = el.form;
    if (!form) return;
    var period = form.querySelector("[data-period]");
    var box = form.querySelector("[data-period-dates]");
    if (!period || !box) return;
    if (el === period) {
      var custom = period.value === "custom";
      box.classList.toggle("is-preset", !custom);
      if (!custom) datesOf(form).forEach(function (input) { input.value = ""; });
    } else if (el.type === "date" && box.contains(el)) {
      period.value = "custom";
      box.classList.remove("is-preset");
    }
  }, true);  // capture: runs before htmx reads the form on the bubbling change

  // Keep shareable URLs short: a report filter request leaves out empty fields (and the
  // answer condition when no question is chosen). htmx builds the pushed URL from these.
  document.addEventListener("htmx:configRequest", function (event) {
    var elt = event.detail.elt;
    if (!elt || !elt.closest || !elt.closest(".report-filters")) return;
    var params = event.detail.parameters;
    var names = [];
    if (typeof params.keys === "function") {
      for (var name of params.keys()) names.push(name);
    } else {
      names = Object.keys(params);
    }
    var noAnswer = !(params.get ? params.get("answer") : params.answer);
    names.forEach(function (name) {
      var value = params.get ? params.get(name) : params[name];
      if (value === "" || value === null || (noAnswer && name === "op")) {
        if (params.delete) params.delete(name); else delete params[name];
      }
    });
  });

  // A condition without a value (is answered, NPS promoters...) greys out the value input.
  function syncOperator(select) {
    var valueless = (select.getAttribute("data-valueless") || "").split(" ");
    var input = select.form && select.form.querySelector("#id_value");
    if (input) input.disabled = valueless.indexOf(select.value) !== -1;
  }
  document.addEventListener("change", function (event) {
    if (event.target.matches && event.target.matches("select[data-valueless]")) syncOperator(event.target);
  }, true);
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("select[data-valueless]").forEach(syncOperator);
  });
})();

// The Response List's answer filter: only the chosen survey's questions are offered (the page
// renders them narrowed; this keeps them so when another survey is picked), and the value box
// suggests the chosen question's answers as people read them (CSAT labels, choices).
(function () {
  "use strict";

  function narrow(form) {
    var survey = form.querySelector("#id_survey");
    var select = form.querySelector("select[data-answer-select]");
    if (!survey || !select) return;
    var chosen = survey.value;
    Array.prototype.forEach.call(select.options, function (option) {
      var surveys = option.getAttribute("data-surveys");
      if (!option.value || !surveys) return;  // "Any question", or a key no question has now
      var off = chosen !== "" && surveys.split(" ").indexOf(chosen) === -1;
      option.hidden = off;
      option.disabled = off;
      if (off && option.selected) select.value = "";
    });
  }

  function suggest(form) {
    var select = form.querySelector("select[data-answer-select]");
    var list = document.getElementById("answer-values");
    if (!select || !list) return;
    var option = select.options[select.selectedIndex];
    var values = [];
    try { values = JSON.parse((option && option.getAttribute("data-values")) || "[]"); } catch (e) { values = []; }
    list.textContent = "";
    values.forEach(function (value) {
      var item = document.createElement("option");
      item.value = value;
      list.appendChild(item);
    });
  }

  document.addEventListener("change", function (event) {
    var el = event.target;
    if (!el.form) return;
    if (el.id === "id_survey") narrow(el.form);
    if (el.matches && el.matches("select[data-answer-select]")) suggest(el.form);
  }, true);  // capture: before htmx reads the form
})();
