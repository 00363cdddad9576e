(function () {
  "use strict";
  // Findings live once in the #findings-data JSON (string table + rows, see findings_island);
  // an account's findings become DOM only when it is open. Text only: textContent, never HTML.
  var data = JSON.parse(document.getElementById("findings-data").textContent);
  var S = data.strings;
  var F = { status: 0, severity: 1, resource: 2, sub: 3, region: 4, reason: 5, evidence: 6, waiver: 7,
    fix: 8, cli: 9, event: 10, by: 11, session: 12, time: 13, ip: 14, id: 15 };
  var evidence = null;
  var haystacks = {};
  var sections = document.querySelectorAll("section.account");  // in data.accounts order

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined && text !== "") { node.textContent = text; }
    return node;
  }
  function add(parent) {
    for (var i = 1; i < arguments.length; i++) {
      var c = arguments[i];
      if (c === null || c === undefined || c === "") { continue; }
      parent.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    }
    return parent;
  }

  function filters() {
    var statuses = {}, severities = {};
    document.querySelectorAll("input[data-filter=status]").forEach(function (c) { statuses[c.value] = c.checked; });
    document.querySelectorAll("input[data-filter=severity]").forEach(function (c) { severities[c.value] = c.checked; });
    var box = document.getElementById("finding-search");
    return { statuses: statuses, severities: severities, text: box ? box.value.trim().toLowerCase() : "" };
  }

  function haystack(a, g, r) {
    var key = a + "/" + g + "/" + r;
    if (haystacks[key] === undefined) {
      var section = sections[a];
      var rule = data.rules[data.accounts[a][0][g][0]];
      var row = data.rows[data.accounts[a][0][g][1][r]];
      var parts = [section.id, S[rule[0]], S[rule[1]]];
      [F.status, F.severity, F.resource, F.sub, F.region, F.reason, F.waiver, F.event, F.by].forEach(function (k) { parts.push(S[row[k]]); });
      haystacks[key] = parts.join(" ").toLowerCase();
    }
    return haystacks[key];
  }

  function shown(f, a, g, r) {
    var row = data.rows[data.accounts[a][0][g][1][r]];
    return f.statuses[S[row[F.status]]] && f.severities[S[row[F.severity]]] &&
      (f.text === "" || haystack(a, g, r).indexOf(f.text) !== -1);
  }

  function evidenceBlock(position) {
    var d = el("details", "evidence");
    d.dataset.evidence = String(position);
    var pre = el("pre");
    add(d, el("summary", "", "Evidence"), pre);
    d.addEventListener("toggle", function () {
      if (!d.open || pre.dataset.done) { return; }
      if (evidence === null) { evidence = JSON.parse(document.getElementById("evidence-data").textContent); }
      pre.textContent = JSON.stringify(evidence[position], null, 2);
      pre.dataset.done = "1";
    });
    return d;
  }

  function finding(row, ruleId, ruleFix) {
    var status = S[row[F.status]];
    var div = el("div", "finding");
    div.dataset.status = status;
    div.dataset.severity = S[row[F.severity]];
    add(div, el("span", "badge " + status, status.replace("_", " ")), " ");
    if (row[F.waiver]) { add(div, el("span", "badge WAIVED", "WAIVED"), " "); }
    add(div, el("span", "sev", S[row[F.severity]]), " ", el("code", "", S[row[F.resource]]));
    if (row[F.sub]) { add(div, " ", el("code", "", S[row[F.sub]])); }
    if (row[F.region]) { add(div, " ", el("span", "muted", S[row[F.region]])); }
    add(div, el("div", "reason", S[row[F.reason]]));
    if (row[F.event]) {
      var who = add(el("div", "muted who"), "Last change: ", el("code", "", S[row[F.event]]), " by ", el("code", "", S[row[F.by]]));
      if (row[F.session]) { add(who, " (session " + S[row[F.session]] + ")"); }
      add(who, " at " + S[row[F.time]]);
      if (row[F.ip]) { add(who, " from " + S[row[F.ip]]); }
      add(div, add(who, " ", el("span", "muted", "event " + S[row[F.id]])));
    }
    if (row[F.waiver]) { add(div, el("div", "muted", S[row[F.waiver]])); }
    if (status === "FAIL") {
      var howto = add(el("details", "howto"), el("summary", "", "How to fix"));
      if (row[F.fix]) { add(howto, el("p", "", S[row[F.fix]])); }
      if (row[F.cli]) { add(howto, el("pre", "", S[row[F.cli]])); }
      var link = el("a", "", ruleFix);
      link.href = "#fix-" + ruleId;
      add(div, add(howto, add(el("p"), link)));
    }
    if (row[F.evidence] >= 0) { add(div, evidenceBlock(row[F.evidence])); }
    return div;
  }

  function coverage(rows) {
    var d = el("details", "coverage");
    d.open = true;
    add(d, el("summary", "", "Monitoring coverage (CIS metric filters): control × trail → log group → filter → alarm → subscriber, and EventBridge"));
    var table = el("table", "coverage-table"), head = el("tr");
    ["control", "verdict", "trail", "log group", "metric filter", "alarm", "subscriber", "EventBridge"].forEach(function (t) { add(head, el("th", "", t)); });
    add(table, head);
    rows.forEach(function (r) {
      var tr = el("tr"), status = S[r[3]];
      add(tr, add(el("td", "", S[r[0]]), add(el("div", "muted"), el("code", "", S[r[1]]), " " + S[r[2]])));
      var verdict = add(el("td"), el("span", "badge " + status, status.replace("_", " ")));
      if (r[4]) { add(verdict, el("div", "muted", "via EventBridge")); }
      add(tr, verdict);
      r[5].forEach(function (cell, i) {
        var last = i === r[5].length - 1;
        var state = S[cell[0]] || (last ? "none" : "not_reached");
        var td = el("td", "link " + (last ? "eb-" : "") + state);
        add(td, el("strong", "", last ? state : state.replace("_", " ")));
        if (cell[1]) { add(td, el("div", "", S[cell[1]])); }
        add(tr, td);
      });
      add(table, tr);
    });
    return add(d, table);
  }

  // Renders account a's findings that pass the filters; returns how many it rendered.
  function render(a, f) {
    var section = sections[a];
    var body = section.querySelector("div.body");
    body.textContent = "";
    var account = data.accounts[a], count = 0;
    var table = data.coverage[account[1]];
    if (table.length) { add(body, coverage(table)); }
    account[0].forEach(function (group, g) {
      var rule = data.rules[group[0]];
      var ruleId = S[rule[0]];
      var rows = group[1].filter(function (row, r) { return shown(f, a, g, r); }).map(function (r) { return data.rows[r]; });
      if (rows.length === 0) { return; }
      count += rows.length;
      var d = el("details", "rule");
      var first = S[data.rows[group[1][0]][F.status]];
      d.open = first === "FAIL" || first === "ERROR";
      var summary = add(el("summary"), el("code", "", ruleId), " — " + S[rule[1]]);
      if (rule[2] !== 0) { add(summary, " ", el("span", "muted", "(decides: " + S[rule[2]] + ")")); }
      if (rule[3] !== 0) { add(summary, " ", el("span", "muted", "(relates to: " + S[rule[3]] + ")")); }
      add(d, summary);
      rows.forEach(function (row) { add(d, finding(row, ruleId, S[rule[4]])); });
      add(body, d);
    });
    body.dataset.done = "1";
    return count;
  }

  function matches(a, f) {
    var groups = data.accounts[a][0];
    for (var g = 0; g < groups.length; g++) {
      for (var r = 0; r < groups[g][1].length; r++) {
        if (shown(f, a, g, r)) { return true; }
      }
    }
    return false;
  }

  function apply() {
    var f = filters();
    document.querySelectorAll("section.account").forEach(function (section) {
      var a = Number(section.dataset.account);
      var details = section.querySelector("details.findings");
      var any = matches(a, f);
      section.classList.toggle("hidden", !any);
      if (any && f.text !== "" && !details.open) { details.open = true; details.dataset.bySearch = "1"; }
      if (f.text === "" && details.dataset.bySearch) { details.open = false; delete details.dataset.bySearch; }
      if (details.open) { render(a, f); } else { section.querySelector("div.body").dataset.done = ""; }
    });
  }

  document.querySelectorAll("section.account details.findings").forEach(function (details) {
    details.addEventListener("toggle", function () {
      var body = details.querySelector("div.body");
      if (!details.open) { delete details.dataset.bySearch; }
      if (details.open && !body.dataset.done) { render(Number(details.parentNode.dataset.account), filters()); }
    });
  });
  document.querySelectorAll("input[data-filter]").forEach(function (c) { c.addEventListener("change", apply); });
  var search = document.getElementById("finding-search");
  if (search) { search.addEventListener("input", apply); }
  function openTarget() {
    var target = location.hash ? document.getElementById(location.hash.slice(1)) : null;
    if (target && target.matches("section.account")) { target.querySelector("details.findings").open = true; }
  }
  window.addEventListener("hashchange", openTarget);
  openTarget();
  apply();
})();
