// Filters, search and expand/collapse for the control section. No network, no eval, no HTML
// built from data: elements are shown or hidden by their data attributes only.
(function () {
  "use strict";
  function apply() {
    var text = document.getElementById("search").value.trim().toLowerCase();
    var framework = document.getElementById("framework").value;
    var wanted = {};
    document.querySelectorAll("input.verdict").forEach(function (box) { wanted[box.value] = box.checked; });
    var shown = 0;
    document.querySelectorAll("details.control").forEach(function (el) {
      var ok = wanted[el.dataset.verdict] &&
        (framework === "" || el.dataset.framework === framework) &&
        (text === "" || el.textContent.toLowerCase().indexOf(text) !== -1);
      el.hidden = !ok;
      if (ok) { shown += 1; }
    });
    document.getElementById("shown").textContent = String(shown);
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.getElementById("search").addEventListener("input", apply);
    document.getElementById("framework").addEventListener("change", apply);
    document.querySelectorAll("input.verdict").forEach(function (box) { box.addEventListener("change", apply); });
    document.getElementById("expand").addEventListener("click", function () {
      document.querySelectorAll("details.control:not([hidden])").forEach(function (d) { d.open = true; });
    });
    document.getElementById("collapse").addEventListener("click", function () {
      document.querySelectorAll("details.control").forEach(function (d) { d.open = false; });
    });
    window.addEventListener("beforeprint", function () {
      document.querySelectorAll("details").forEach(function (d) { d.open = true; });
    });
    apply();
  });
})();
