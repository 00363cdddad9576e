(function () {
  "use strict";
  function apply() {
    var statuses = {}, severities = {};
    document.querySelectorAll("input[data-filter=status]").forEach(function (c) { statuses[c.value] = c.checked; });
    document.querySelectorAll("input[data-filter=severity]").forEach(function (c) { severities[c.value] = c.checked; });
    var box = document.getElementById("finding-search");
    var text = box ? box.value.trim().toLowerCase() : "";
    document.querySelectorAll(".finding").forEach(function (f) {
      var show = statuses[f.dataset.status] && severities[f.dataset.severity] &&
        (text === "" || (f.closest("section.account").id + " " + f.closest("details.rule").querySelector("summary").textContent + " " + f.textContent).toLowerCase().indexOf(text) !== -1);
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
  var search = document.getElementById("finding-search");
  if (search) { search.addEventListener("input", apply); }
  // Evidence is rendered when first opened, as text, from the one embedded JSON array.
  var evidence = null;
  document.querySelectorAll("details.evidence").forEach(function (d) {
    d.addEventListener("toggle", function () {
      var pre = d.querySelector("pre");
      if (!d.open || pre.dataset.done) { return; }
      if (evidence === null) { evidence = JSON.parse(document.getElementById("evidence-data").textContent); }
      pre.textContent = JSON.stringify(evidence[Number(d.dataset.evidence)], null, 2);
      pre.dataset.done = "1";
    });
  });
  apply();
})();
