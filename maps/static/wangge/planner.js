/* wangge planner map: load a community's grids with their workload (labels
 * always visible, shaded by residents), buildings and cameras for context;
 * edit the grids with Geoman, post them as a proposal, draw the report on
 * the map, publish (a 412 means someone published first: reload). No data
 * is inlined in the page; everything comes from the API with the caller's
 * token (header from ?token=, or the cookie the page route sets). */
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

  var cfg = null, workloadByCode = {}, lastAnswer = null;

  function styles() {
    var c = cfg.colours;
    return {
      invalid: {color: c.invalid, weight: 6, opacity: 0.95, fillOpacity: 0.35, pmIgnore: true},
      outside: {color: c.invalid, weight: 3, dashArray: "6 4", fillColor: c.invalid, fillOpacity: 0.35, pmIgnore: true},
      overlap: {color: c.overlap, weight: 3, fillColor: c.overlap, fillOpacity: 0.55, pmIgnore: true},
      gap: {color: c.gap, weight: 3, fillColor: c.gap, fillOpacity: 0.6, pmIgnore: true}
    };
  }

  function setState(state) { document.body.dataset.plannerState = state; }

  // residents per grid: equal classes over the grids shown, whole people, never a repeated bound
  function residentBreaks(values) {
    if (!values.length) { return []; }
    var low = Math.min.apply(null, values), high = Math.max.apply(null, values), n = cfg.colours.ramp.length;
    var width = Math.max(1, Math.ceil((high - low + 1) / n)), uppers = [], upper = low - 1;
    while (upper < high) { upper = Math.min(high, upper + width); uppers.push(upper); }
    return uppers;
  }

  function rampColour(value, breaks) {
    var i = 0;
    while (i < breaks.length - 1 && value > breaks[i]) { i += 1; }
    var ramp = cfg.colours.ramp, last = ramp.length - 1;
    // light = few residents; the ramp's dark end (cividis) = many
    return ramp[last - Math.round(i * last / Math.max(1, breaks.length - 1))];
  }

  function label(props, row) {
    var text = "<b>" + escapeHtml(props.name || "新网格 new grid") + "</b><br>" + escapeHtml(props.code || "—");
    if (row) {
      text += "<span class=\"pl-work\"><br>居民 " + row.residents + " · 楼 " + row.buildings + " · 案 " + row.cases_90d + "</span>";
    }
    return text;
  }

  function shadeGrids(group) {
    var rows = [];
    group.eachLayer(function (layer) { if (layer.wanggeRow) { rows.push(layer.wanggeRow.residents); } });
    var breaks = residentBreaks(rows);
    group.eachLayer(function (layer) {
      if (!layer.setStyle) { return; }
      var row = layer.wanggeRow;
      layer.setStyle(row ? {fillColor: rampColour(row.residents, breaks), fillOpacity: 0.45}
                         : {fillColor: "#ffffff", fillOpacity: 0.1});
      layer.unbindTooltip();
      layer.bindTooltip(label(layer.wanggeProps || {}, row),
                        {permanent: true, direction: "center", className: "pl-label"});
    });
    drawLegend(breaks);
  }

  function drawLegend(breaks) {
    var c = cfg.colours, parts = ["<h4>居民 Residents per grid</h4>"];
    breaks.forEach(function (upper, i) {
      var from = i === 0 ? 0 : breaks[i - 1] + 1;
      parts.push("<div><i style=\"background:" + rampColour(upper, breaks) + "\"></i>" +
                 (from === upper ? upper : from + "–" + upper) + "</div>");
    });
    parts.push("<div>标注 label: 名称 name / 编码 code / 居民 residents · 楼 buildings · 案 cases (90 天 days)</div>");
    parts.push("<h4>检查结果 Report</h4>",
      "<div><i class=\"pl-line\" style=\"border-color:" + c.invalid + "\"></i>无效边 invalid edge / 越界 outside</div>",
      "<div><i style=\"background:" + c.overlap + "\"></i>重叠 overlap</div>",
      "<div><i style=\"background:" + c.gap + "\"></i>空隙 gap</div>",
      "<h4>参照 Context</h4>",
      "<div><i class=\"pl-line\" style=\"border-color:" + c.grid + "\"></i>网格 grid</div>",
      "<div><i style=\"background:#4b5563\"></i>建筑 building</div>",
      "<div><i style=\"background:" + c.camera + ";transform:rotate(45deg) scale(.8)\"></i>摄像头 camera</div>",
      "<div><i style=\"background:none;border-color:" + c.hollow + ";transform:rotate(45deg) scale(.8)\"></i>离线 offline camera</div>");
    document.getElementById("planner-legend").innerHTML = parts.join("");
  }

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
    var cov = report.coverage, st = styles();
    L.geoJSON(cov.invalid_edges, {style: st.invalid, pmIgnore: true}).bindTooltip("无效边 invalid edge").addTo(reportLayer);
    L.geoJSON(cov.overlaps, {style: st.overlap, pmIgnore: true}).bindTooltip("重叠 overlap").addTo(reportLayer);
    L.geoJSON(cov.outside, {style: st.outside, pmIgnore: true}).bindTooltip("越界 outside the community").addTo(reportLayer);
    L.geoJSON(cov.gaps, {style: st.gap, pmIgnore: true}).bindTooltip("空隙 gap").addTo(reportLayer);
    report.validity.issues.forEach(function (issue) {
      if (issue.location) {
        var c = issue.location.coordinates;
        L.circleMarker([c[1], c[0]], {radius: 8, color: cfg.colours.invalid, weight: 4, pmIgnore: true})
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
      if (row && layer.bindTooltip) { layer.wanggeRow = row; }
    });
    shadeGrids(group);
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
    lastAnswer = answer;
    document.getElementById("planner-publish").disabled = !report.ok;
    setState("reported");
  }

  function submit(map, group, reportLayer, config) {
    setStatus("正在检查 checking…");
    setState("checking");  // so a waiting reader never takes the last report
    document.getElementById("planner-publish").disabled = true;
    document.getElementById("planner-confirm").hidden = true;
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
        setState("refused");
        return;
      }
      setStatus("report for proposal #" + r.body.id);
      drawReport(map, group, reportLayer, r.body);
    }).catch(function (err) {
      // every way out replaces "checking…": a dead request must not look like a slow one
      setStatus("request failed: " + err);
      setState("failed");
    });
  }

  function confirmText(answer) {
    var report = answer.report, cov = report.coverage;
    return "<b>发布方案 #" + answer.id + " Publish proposal #" + answer.id + "?</b><br>" +
      report.grids + " 个网格 grids; " + (report.ok ? "检查通过 report OK" : "有问题 problems") +
      "; overlaps " + cov.overlaps.features.length + ", gaps " + cov.gaps.features.length + "<br>" +
      balanceLine("residents before", report.workload.balance_before) + "<br>" +
      balanceLine("after", report.workload.balance_after);
  }

  function reload(map, group, reportLayer, config) {
    reportLayer.clearLayers();
    group.clearLayers();
    document.getElementById("planner-report").innerHTML = "";
    document.getElementById("planner-publish").disabled = true;
    lastAnswer = null;
    return loadGrids(map, group, config).then(function (count) {
      group.eachLayer(function (layer) { if (L.PM && L.PM.reInitLayer) { L.PM.reInitLayer(layer); } });
      return count;
    });
  }

  function publish(map, group, reportLayer, config) {
    var answer = lastAnswer;
    document.getElementById("planner-confirm").hidden = true;
    setStatus("正在发布 publishing…");
    setState("publishing");
    fetch(config.publishUrl.replace("{id}", answer.id), {
      method: "POST", credentials: "same-origin",
      headers: headers({"If-Match": answer.etag, "Content-Type": "application/json"}), body: "{}"
    }).then(function (response) {
      return response.json().then(function (body) { return {status: response.status, body: body}; });
    }).then(function (r) {
      if (r.status === 412) {
        setStatus("有人已先发布, 已重新加载 someone published first: grids reloaded, check again");
        return reload(map, group, reportLayer, config).then(function () { setState("stale-reloaded"); });
      }
      if (r.status !== 200) {
        setStatus("发布被拒 refused (" + r.status + "): " + (r.body.detail || ""));
        setState("refused");
        return null;
      }
      var done = "已发布 published: " + r.body.message;
      return reload(map, group, reportLayer, config).then(function () { setStatus(done); setState("published"); });
    }).catch(function (err) { setStatus("request failed: " + err); setState("failed"); });
  }

  function loadGrids(map, group, config) {
    var grids = fetch(config.gridsUrl, {credentials: "same-origin", headers: headers()})
      .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.json(); });
    var work = fetch(config.workloadUrl, {credentials: "same-origin", headers: headers()})
      .then(function (r) { return r.ok ? r.json() : {grids: []}; });
    return Promise.all([grids, work]).then(function (both) {
      var fc = both[0];
      workloadByCode = {};
      both[1].grids.forEach(function (row) { workloadByCode[row.code] = row; });
      fc.features.forEach(function (f) {
        L.geoJSON(f, {style: {color: cfg.colours.grid, weight: 2, fillOpacity: 0.1}}).eachLayer(function (layer) {
          layer.wanggeProps = {code: f.properties.code, name: f.properties.name};
          layer.wanggeRow = workloadByCode[f.properties.code] || null;
          followSharedVertices(group, layer);
          group.addLayer(layer);
        });
      });
      shadeGrids(group);
      return fc.features.length;
    });
  }

  function shapeIcon(fill) {
    var stroke = fill === "none" ? cfg.colours.hollow : "#ffffff";
    var size = Math.round(1.1 * parseFloat(getComputedStyle(document.documentElement).fontSize));
    return L.divIcon({className: "pl-icon", iconSize: [size, size],
      html: '<svg viewBox="0 0 16 16" fill="' + fill + '" stroke="' + stroke + '" stroke-width="2">' +
            '<polygon points="8,1 15,8 8,15 1,8"/></svg>'});
  }

  function loadCameras(map, config) {
    var layer = L.layerGroup().addTo(map), b = map.getBounds().pad(0.1);
    var bbox = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map(function (v) { return v.toFixed(5); }).join(",");
    return fetch(config.camerasUrl + "?bbox=" + bbox, {credentials: "same-origin", headers: headers()})
      .then(function (r) { return r.ok ? r.json() : {features: []}; })
      .then(function (fc) {
        fc.features.forEach(function (f) {
          var c = f.geometry.coordinates, p = f.properties;
          L.marker([c[1], c[0]], {icon: shapeIcon(p.online ? cfg.colours.camera : "none"), pmIgnore: true,
                                  keyboard: false, interactive: true})
            .bindTooltip(escapeHtml("摄像头 " + (p.name || "") + (p.online ? "" : " (离线 offline)")))
            .addTo(layer);
        });
        window.wanggePlanner.cameras = layer;
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
                              {color: cfg.colours.grid, weight: 2, fillOpacity: 0.1});
        piece.wanggeProps = {code: null, name: (props.name || "grid") + "-" + (n + 1)};
        followSharedVertices(group, piece);
        group.addLayer(piece);
        if (L.PM && L.PM.reInitLayer) { L.PM.reInitLayer(piece); }
      });
      done.push(props.code || props.name);
    });
    if (done.length) { shadeGrids(group); }
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
    cfg = config;
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
    // zoomed far out (a phone showing the whole community) the labels keep name and code only
    var far = function () { document.body.classList.toggle("pl-far", map.getZoom() < 15.5); };
    map.on("zoomend", far);
    far();
    var toggle = document.getElementById("planner-toggle");
    toggle.addEventListener("click", function () {
      toggle.setAttribute("aria-expanded", String(document.body.classList.toggle("pl-panel-open")));
    });
    document.getElementById("planner-submit").addEventListener("click", function () {
      submit(map, group, reportLayer, config);
    });
    document.getElementById("planner-publish").addEventListener("click", function () {
      if (!lastAnswer) { return; }
      document.getElementById("planner-confirm-text").innerHTML = confirmText(lastAnswer);
      document.getElementById("planner-confirm").hidden = false;
      setState("confirming");
    });
    document.getElementById("planner-confirm-publish").addEventListener("click", function () {
      publish(map, group, reportLayer, config);
    });
    document.getElementById("planner-confirm-cancel").addEventListener("click", function () {
      document.getElementById("planner-confirm").hidden = true;
      setState("reported");
    });
    loadGrids(map, group, config).then(function (count) {
      if (group.getLayers().length) { map.fitBounds(group.getBounds()); }
      group.eachLayer(function (layer) { if (L.PM && L.PM.reInitLayer) { L.PM.reInitLayer(layer); } });
      setStatus(count + " grids loaded; edit, then check");
      document.getElementById("planner-submit").disabled = false;
      return loadCameras(map, config);
    }).then(function () { setState("ready"); })
      .catch(function (err) { setStatus("could not load grids: " + err); setState("failed"); });
  }

  window.wanggePlanner = {start: start, gridFeatures: gridFeatures, splitWith: splitWith, splitRing: splitRing,
                          moveSharedVertex: moveSharedVertex};
}());
