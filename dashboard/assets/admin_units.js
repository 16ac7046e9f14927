/* 单位与辖区 (/admin/units): a jurisdiction file (GeoJSON) chosen in #admin-units-geojson is read
 * here as text and posted to /api/v1/admin/units/jurisdictions/check (MinshengSteps.post: CSRF
 * header); the `geo check` report it answers is written into #admin-units-geo-report. Nothing is
 * applied. The words come from the report box's data-config. */
(function () {
  "use strict";
  function cell(row, text, cls) {
    var td = document.createElement("td");
    td.textContent = text;
    if (cls) { td.className = cls; }
    row.appendChild(td);
  }

  function render(box, cfg, report) {
    var t = cfg.text;
    box.innerHTML = "";
    var head = document.createElement("p");
    head.className = report.ok ? "admin-good" : "admin-bad";
    head.textContent = MinshengLive.format(t.checked, {features: report.features, units: report.units,
      area: report.area_km2, errors: report.errors, warnings: report.warnings}) + " · " + (report.ok ? t.ok : t.not_ok);
    box.appendChild(head);
    var decide = document.createElement("div");
    decide.className = "admin-actions";
    [["apply", "step step-primary", report.ok], ["discard", "step", true]].forEach(function (b) {
      if (!b[2]) { return; }  // a file with errors cannot be applied
      var button = document.createElement("button");
      button.type = "button"; button.className = b[1]; button.id = "admin-units-geo-" + b[0];
      button.textContent = t[b[0]];
      button.onclick = function () {
        MinshengSteps.post("/api/v1/admin/units/jurisdictions/" + b[0] + "?lang=" + cfg.lang, {upload: report.id},
                           cfg.lang).then(function (answer) {
          var error = (answer.json && answer.json.error) || {};
          decide.textContent = answer.ok ? t[b[0] + "_done"] :
            MinshengLive.format(t.failed, {message: error.message || answer.status});
        });
      };
      decide.appendChild(button);
    });
    box.appendChild(decide);
    if (report.map) {  // the platform's own offline map (geo/maps.py), in a srcdoc frame as every map here
      var frame = document.createElement("iframe");
      frame.className = "admin-geo-map"; frame.id = "admin-units-geo-map";
      box.appendChild(frame);
      fetch(report.map, {credentials: "same-origin"}).then(function (r) { return r.ok ? r.text() : ""; })
        .then(function (page) { frame.srcdoc = page; });
    }
    if (!report.problems.length) { return; }
    var table = document.createElement("table");
    table.className = "admin-table admin-geo-problems";
    var tr = document.createElement("tr");
    [t.severity, t.kind, t.what, t.area, t.where].forEach(function (h) {
      var th = document.createElement("th"); th.textContent = h; tr.appendChild(th);
    });
    var thead = document.createElement("thead"); thead.appendChild(tr); table.appendChild(thead);
    var body = document.createElement("tbody");
    report.problems.forEach(function (p) {
      var row = document.createElement("tr");
      row.setAttribute("data-kind", p.kind);
      cell(row, p.severity === "error" ? t.error : t.warning, p.severity === "error" ? "admin-bad" : "admin-muted");
      cell(row, t[p.kind] || p.kind);
      cell(row, p.message, "admin-details");
      cell(row, p.area_km2 === null ? "" : String(p.area_km2));
      cell(row, p.at ? p.at[0].toFixed(5) + ", " + p.at[1].toFixed(5) : "");
      body.appendChild(row);
    });
    table.appendChild(body);
    box.appendChild(table);
  }

  document.addEventListener("change", function (ev) {
    var input = ev.target;
    if (!input || input.type !== "file" || !input.closest || !input.closest("#admin-units-geojson")) { return; }
    var file = input.files && input.files[0];
    var box = document.getElementById("admin-units-geo-report");
    if (!file || !box) { return; }
    ev.stopPropagation();  // not Dash's upload: the file goes to the API
    var cfg = JSON.parse(box.getAttribute("data-config"));
    var reader = new FileReader();
    reader.onload = function () {
      MinshengSteps.post("/api/v1/admin/units/jurisdictions/check?lang=" + cfg.lang,
                         {text: String(reader.result), name: file.name}, cfg.lang).then(function (answer) {
        if (!answer.ok) {
          var error = (answer.json && answer.json.error) || {};
          box.textContent = MinshengLive.format(cfg.text.failed, {message: error.message || answer.status});
          return;
        }
        render(box, cfg, answer.json);
      });
      input.value = "";
    };
    reader.readAsText(file, "utf-8");
  }, true);
})();
