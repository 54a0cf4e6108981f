// Draws the figures and runs the document browser. Every value from the run goes into the page
// with textContent (never innerHTML), so a document's text shows as text and never runs.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("dashboard-data").textContent);
  var config = { responsive: true, displaylogo: false };

  document.querySelectorAll(".plot").forEach(function (el) {
    var fig = data.figures[Number(el.dataset.figure)].figure;
    Plotly.newPlot(el, fig.data, fig.layout, config);
  });

  function el(tag, text, cls) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }
  function groupOf(doc) {
    return doc.status === "kept" ? "kept · " + (doc.domain || "—") : doc.reject_stage + " · " + doc.reject_reason;
  }
  function option(select, value, label) {
    var o = el("option", label);
    o.value = value;
    select.appendChild(o);
  }

  var runSelect = document.getElementById("f-run");
  var statusSelect = document.getElementById("f-status");
  var groupSelect = document.getElementById("f-group");
  var search = document.getElementById("f-search");
  var tbody = document.querySelector("#doc-list tbody");
  var view = document.getElementById("doc-view");
  var count = document.getElementById("f-count");
  Object.keys(data.samples).forEach(function (label) { option(runSelect, label, label); });

  function fillGroups() {
    var docs = data.samples[runSelect.value] || [];
    var seen = {};
    groupSelect.length = 1;
    docs.forEach(function (d) { seen[groupOf(d)] = true; });
    Object.keys(seen).sort().forEach(function (g) { option(groupSelect, g, g); });
  }

  function show(doc, row) {
    tbody.querySelectorAll("tr.selected").forEach(function (r) { r.classList.remove("selected"); });
    row.classList.add("selected");
    view.replaceChildren();
    view.appendChild(el("h3", doc.id));
    if (doc.status !== "kept") {
      view.appendChild(el("p", "rejected by " + doc.reject_stage + ": " + doc.reject_reason +
        (doc.reject_detail ? " (" + doc.reject_detail + ")" : ""), "status-rejected"));
    }
    var note = doc.text_chars > doc.text.length ? " (first " + doc.text.length + " of " + doc.text_chars + " characters)" : "";
    view.appendChild(el("h4", "text" + note));
    view.appendChild(el("pre", doc.text, "doc-text"));
    view.appendChild(el("h4", "signals and metadata"));
    var table = el("table");
    Object.keys(doc).sort().forEach(function (key) {
      if (key === "text") return;
      var value = doc[key];
      var tr = el("tr");
      tr.appendChild(el("td", key));
      tr.appendChild(el("td", typeof value === "object" ? JSON.stringify(value) : value));
      table.appendChild(tr);
    });
    view.appendChild(table);
  }

  function render() {
    var docs = data.samples[runSelect.value] || [];
    var status = statusSelect.value, group = groupSelect.value, needle = search.value.toLowerCase();
    tbody.replaceChildren();
    var shown = 0;
    docs.forEach(function (doc) {
      if (status && doc.status !== status) return;
      if (group && groupOf(doc) !== group) return;
      if (needle && String(doc.id).toLowerCase().indexOf(needle) < 0 && doc.text.toLowerCase().indexOf(needle) < 0) return;
      var tr = el("tr");
      tr.appendChild(el("td", doc.status, "status-" + doc.status));
      tr.appendChild(el("td", doc.id));
      tr.appendChild(el("td", doc.domain));
      tr.appendChild(el("td", doc.lang || doc.code_language));
      tr.appendChild(el("td", doc.status === "kept" ? "" : doc.reject_stage + " · " + doc.reject_reason));
      tr.appendChild(el("td", doc.n_tokens));
      tr.addEventListener("click", function () { show(doc, tr); });
      tbody.appendChild(tr);
      shown += 1;
    });
    count.textContent = shown + " of " + docs.length + " sampled documents";
  }

  runSelect.addEventListener("change", function () { fillGroups(); render(); });
  [statusSelect, groupSelect].forEach(function (s) { s.addEventListener("change", render); });
  search.addEventListener("input", render);
  fillGroups();
  render();
})();
