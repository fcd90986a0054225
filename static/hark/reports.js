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
