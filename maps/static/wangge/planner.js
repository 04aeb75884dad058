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
      // full precision: Leaflet's default of 6 decimals would move every vertex by up to 8 cm
      var f = layer.toGeoJSON(false);
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
    document.body.dataset.plannerState = "checking";  // so a waiting reader never takes the last report
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
            followSharedVertices(group, layer);
            group.addLayer(layer);
          });
        });
        return fc.features.length;
      });
  }

  /* Split by a drawn line: every grid the line crosses edge to edge (exactly
   * twice) becomes two grids, cut where the line crosses its edges. Cut
   * points are computed in degrees, on the grid's straight edges; the
   * neighbours do not get them here, the server inserts them (and snaps
   * everything to the stored vertices within its tolerance). */
  function crossing(p, q, a, b) {
    // segment p-q (the line) against a-b (an edge): [t along p-q, point] or null
    var rx = q[0] - p[0], ry = q[1] - p[1], sx = b[0] - a[0], sy = b[1] - a[1];
    var den = rx * sy - ry * sx;
    if (den === 0) { return null; }
    var t = ((a[0] - p[0]) * sy - (a[1] - p[1]) * sx) / den;
    var u = ((a[0] - p[0]) * ry - (a[1] - p[1]) * rx) / den;
    if (t < 0 || t > 1 || u < 0 || u >= 1) { return null; }
    return {t: t, point: [a[0] + u * sx, a[1] + u * sy]};
  }

  function splitRing(ring, line) {
    // ring: closed [[lng, lat], ...]; line: [[lng, lat], ...]; two rings or null
    var hits = [];
    for (var i = 0; i + 1 < line.length; i += 1) {
      for (var j = 0; j + 1 < ring.length; j += 1) {
        var c = crossing(line[i], line[i + 1], ring[j], ring[j + 1]);
        if (c) { hits.push({along: i + c.t, segment: i, edge: j, point: c.point}); }
      }
    }
    if (hits.length !== 2) { return null; }
    hits.sort(function (x, y) { return x.along - y.along; });
    var a = hits[0], b = hits[1];
    var inner = line.slice(a.segment + 1, b.segment + 1);  // the line's own vertices between the cuts
    var n = ring.length - 1;
    function walk(from, to) {  // ring vertices after edge `from` up to and including the start of edge `to`
      var out = [];
      for (var k = (from + 1) % n; ; k = (k + 1) % n) {
        out.push(ring[k]);
        if (k === to) { break; }
      }
      return from === to ? [] : out;
    }
    var first = [a.point].concat(walk(a.edge, b.edge), [b.point], inner.slice().reverse(), [a.point]);
    var second = [b.point].concat(walk(b.edge, a.edge), [a.point], inner, [b.point]);
    return [first, second];
  }

  function outerRing(layer) {
    var g = layer.toGeoJSON(false).geometry;
    if (g.type === "Polygon" && g.coordinates.length === 1) { return g.coordinates[0]; }
    if (g.type === "MultiPolygon" && g.coordinates.length === 1 && g.coordinates[0].length === 1) {
      return g.coordinates[0][0];
    }
    return null;  // holes or several parts: cut those by hand with the cut tool
  }

  function splitWith(group, lnglats) {
    var done = [];
    group.getLayers().forEach(function (layer) {
      var ring = layer.toGeoJSON ? outerRing(layer) : null;
      var rings = ring ? splitRing(ring, lnglats) : null;
      if (!rings) { return; }
      var props = layer.wanggeProps || {};
      group.removeLayer(layer);
      rings.forEach(function (r, n) {
        var piece = L.polygon(r.map(function (c) { return [c[1], c[0]]; }),
                              {color: "#2b83ba", weight: 2, fillOpacity: 0.08});
        piece.wanggeProps = {code: null, name: (props.name || "grid") + "-" + (n + 1)};
        followSharedVertices(group, piece);
        group.addLayer(piece);
        if (L.PM && L.PM.reInitLayer) { L.PM.reInitLayer(piece); }
      });
      done.push(props.code || props.name);
    });
    setStatus(done.length ? "split " + done.join(", ") + "; check the proposal"
                          : "the line must cross a grid edge to edge");
    return done;
  }

  /* A vertex dragged in one grid moves in every grid that shares it, as a
   * topological editor does: neighbours keep one common vertex, so the edit
   * leaves no gap and no overlap behind. */
  function moveSharedVertex(group, dragged, from, to) {
    var moved = [];
    group.eachLayer(function (other) {
      if (other === dragged || !other.getLatLngs) { return; }
      var latlngs = other.getLatLngs(), changed = false;
      (function visit(list) {
        for (var i = 0; i < list.length; i += 1) {
          if (Array.isArray(list[i])) { visit(list[i]); } else if (list[i].equals(from, 0)) {
            list[i] = L.latLng(to.lat, to.lng);
            changed = true;
          }
        }
      }(latlngs));
      if (!changed) { return; }
      var editing = other.pm && other.pm.enabled();
      if (editing) { other.pm.disable(); }
      other.setLatLngs(latlngs);
      if (editing) { other.pm.enable(); }
      moved.push((other.wanggeProps || {}).code);
    });
    return moved;
  }

  function followSharedVertices(group, layer) {
    var from = null;
    layer.on("pm:markerdragstart", function (e) { from = L.latLng(e.markerEvent.target.getLatLng()); });
    layer.on("pm:markerdragend", function (e) {
      if (from) { moveSharedVertex(group, layer, from, e.markerEvent.target.getLatLng()); }
      from = null;
    });
  }

  function start(map, group, config) {
    window.wanggePlanner.map = map;
    window.wanggePlanner.group = group;
    document.getElementById("planner-title").textContent = config.name + " " + config.community;
    var reportLayer = L.featureGroup().addTo(map);
    map.pm.setGlobalOptions({snappable: true, snapDistance: 15, layerGroup: group,
                             allowSelfIntersection: true});
    // a drawn line is a split tool, not a grid
    map.on("pm:create", function (e) {
      if (e.shape !== "Line") { return; }
      group.removeLayer(e.layer);
      map.removeLayer(e.layer);
      window.wanggePlanner.splitWith(group, e.layer.getLatLngs().map(function (p) { return [p.lng, p.lat]; }));
    });
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

  window.wanggePlanner = {start: start, gridFeatures: gridFeatures, splitWith: splitWith, splitRing: splitRing,
                          moveSharedVertex: moveSharedVertex};
}());
