/* wangge planner map: load a community's grids, edit them with Geoman,
 * post them as a proposal and draw the report. No data is inlined in the
 * page; everything comes from the API with the caller's token. */
(function () {
  "use strict";

  function token() {
    var fromUrl = new URLSearchParams(window.location.search).get("token");
    return fromUrl || null;
  }

  function headers(extra) {
    var h = Object.assign({}, extra || {});
    var t = token();
    if (t) { h.Authorization = "Bearer " + t; }
    return h;
  }

  function setStatus(text) {
    document.getElementById("planner-status").textContent = text;
  }

  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c];
    });
  }

  var RED = {color: "#d7191c", weight: 5, opacity: 0.9, fillOpacity: 0.35};
  var GAP = {color: "#fdae61", weight: 2, fillColor: "#fdae61", fillOpacity: 0.6};

  function gridFeatures(group) {
    var features = [];
    group.eachLayer(function (layer) {
      if (!layer.toGeoJSON) { return; }
      var f = layer.toGeoJSON();
      if (!f.geometry || (f.geometry.type !== "Polygon" && f.geometry.type !== "MultiPolygon")) { return; }
      var props = layer.wanggeProps || {};
      f.properties = {code: props.code || null, name: props.name || null};
      features.push(f);
    });
    return {type: "FeatureCollection", features: features};
  }

  function workloadTable(rows) {
    var head = "<tr><th>grid</th><th>residents</th><th>households</th><th>bldgs</th>" +
      "<th>cams</th><th>stalls</th><th>cases 90d</th></tr>";
    var body = rows.map(function (r) {
      return "<tr><td>" + escapeHtml(r.grid) + "</td><td>" + r.residents + "</td><td>" + r.households +
        "</td><td>" + r.buildings + "</td><td>" + r.cameras + "</td><td>" + r.stall_zones +
        "</td><td>" + r.cases_90d + "</td></tr>";
    }).join("");
    return "<table id=\"planner-workload\" style=\"font-size:11px\">" + head + body + "</table>";
  }

  function balanceLine(label, b) {
    var r = b.residents;
    return label + ": residents max/min " + (r.max_min_ratio === null ? "–" : r.max_min_ratio) +
      ", CV " + (r.cv === null ? "–" : r.cv);
  }

  function drawReport(map, group, reportLayer, answer) {
    var report = answer.report;
    reportLayer.clearLayers();
    var cov = report.coverage;
    L.geoJSON(cov.invalid_edges, {style: RED}).bindTooltip("invalid edge").addTo(reportLayer);
    L.geoJSON(cov.overlaps, {style: RED}).bindTooltip("overlap").addTo(reportLayer);
    L.geoJSON(cov.outside, {style: RED}).bindTooltip("outside the community").addTo(reportLayer);
    L.geoJSON(cov.gaps, {style: GAP}).bindTooltip("gap").addTo(reportLayer);
    report.validity.issues.forEach(function (issue) {
      if (issue.location) {
        var c = issue.location.coordinates;
        L.circleMarker([c[1], c[0]], {radius: 8, color: "#d7191c"})
          .bindTooltip(escapeHtml(issue.grid + ": " + issue.reason)).addTo(reportLayer);
      }
    });
    var byKey = {};
    report.workload.grids.forEach(function (row) { byKey[row.grid] = row; });
    var keys = answer.features.features.map(function (f) { return f.properties.key; });
    var i = 0;
    group.eachLayer(function (layer) {
      var row = byKey[keys[i]];
      i += 1;
      if (row && layer.bindTooltip) {
        layer.bindTooltip(escapeHtml(row.grid) + "<br>residents " + row.residents + ", buildings " +
          row.buildings + ", cases " + row.cases_90d);
      }
    });
    var summary = [
      "<div id=\"planner-verdict\">" + (report.ok ? "OK: the grids tile the community" : "Problems found") + "</div>",
      "proposal #" + answer.id,
      "invalid polygons: " + report.validity.issues.length,
      "invalid edges: " + cov.invalid_edges.features.length,
      "overlaps: " + cov.overlaps.features.length + ", gaps: " + cov.gaps.features.length +
        ", outside: " + cov.outside.features.length,
      balanceLine("before", report.workload.balance_before),
      balanceLine("after", report.workload.balance_after),
    ];
    document.getElementById("planner-report").innerHTML =
      summary.map(function (s) { return "<div>" + s + "</div>"; }).join("") +
      workloadTable(report.workload.grids);
    document.body.dataset.plannerState = "reported";
  }

  function submit(map, group, reportLayer, config) {
    setStatus("checking…");
    fetch(config.proposalsUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: headers({"Content-Type": "application/json"}),
      body: JSON.stringify(gridFeatures(group)),
    }).then(function (response) {
      return response.json().then(function (body) { return {status: response.status, body: body}; });
    }).then(function (r) {
      if (r.status !== 201) {
        setStatus("refused (" + r.status + "): " + (r.body.detail || ""));
        document.body.dataset.plannerState = "refused";
        return;
      }
      setStatus("report for proposal #" + r.body.id);
      drawReport(map, group, reportLayer, r.body);
    }).catch(function (err) {
      setStatus("request failed: " + err);
    });
  }

  function loadGrids(map, group, config) {
    return fetch(config.gridsUrl, {credentials: "same-origin", headers: headers()})
      .then(function (r) { return r.json(); })
      .then(function (fc) {
        fc.features.forEach(function (f) {
          L.geoJSON(f, {style: {color: "#2b83ba", weight: 2, fillOpacity: 0.08}}).eachLayer(function (layer) {
            layer.wanggeProps = {code: f.properties.code, name: f.properties.name};
            layer.bindTooltip(escapeHtml(f.properties.name + " " + f.properties.code));
            group.addLayer(layer);
          });
        });
        return fc.features.length;
      });
  }

  function start(map, group, config) {
    document.getElementById("planner-title").textContent = config.name + " " + config.community;
    var reportLayer = L.featureGroup().addTo(map);
    map.pm.setGlobalOptions({snappable: true, snapDistance: 15, layerGroup: group,
                             allowSelfIntersection: true});
    loadGrids(map, group, config).then(function (count) {
      if (group.getLayers().length) { map.fitBounds(group.getBounds()); }
      group.eachLayer(function (layer) { if (L.PM && L.PM.reInitLayer) { L.PM.reInitLayer(layer); } });
      setStatus(count + " grids loaded; edit, then check");
      var button = document.getElementById("planner-submit");
      button.disabled = false;
      button.addEventListener("click", function () { submit(map, group, reportLayer, config); });
      document.body.dataset.plannerState = "ready";
    }).catch(function (err) { setStatus("could not load grids: " + err); });
  }

  window.wanggePlanner = {start: start, gridFeatures: gridFeatures};
}());
