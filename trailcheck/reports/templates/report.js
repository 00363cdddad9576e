(function () {
  "use strict";
  function apply() {
    var statuses = {}, severities = {};
    document.querySelectorAll("input[data-filter=status]").forEach(function (c) { statuses[c.value] = c.checked; });
    document.querySelectorAll("input[data-filter=severity]").forEach(function (c) { severities[c.value] = c.checked; });
    document.querySelectorAll(".finding").forEach(function (f) {
      var show = statuses[f.dataset.status] && severities[f.dataset.severity];
      f.classList.toggle("hidden", !show);
    });
    document.querySelectorAll("details.rule").forEach(function (d) {
      d.classList.toggle("hidden", d.querySelectorAll(".finding:not(.hidden)").length === 0);
    });
    document.querySelectorAll("section.account").forEach(function (s) {
      s.classList.toggle("hidden", s.querySelectorAll("details.rule:not(.hidden)").length === 0);
    });
  }
  document.querySelectorAll("input[data-filter]").forEach(function (c) { c.addEventListener("change", apply); });
  apply();
})();
