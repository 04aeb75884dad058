/* wangge map wall, sensing part: cameras with their view sectors, water-level sensors whose
 * alarms are told by shape and motion, a sensor's last 24 hours as a small chart with its
 * warn / alarm / clear lines, and the cameras to call up in every case and alarm popup.
 *
 * wall.js calls window.wanggeExtension({cfg, map, layer}) in wangge.start() and draws the
 * "cameras" and "waterlogging" layers with what it returns; case popups are found on the
 * map's popupopen event (their root carries data-case). No chart library: inline SVG. */
(function () {
  "use strict";

  var cfg, map, layerOf, apiRoot = "/";
  var EARTH_M = 6371008.8; // mean radius: sectors are drawn, not measured (the API's test is geodesic)
  var SECTOR_STEP_DEG = 5;
  // neutral greys, so no colour means two things: a sector is where a camera looks, not a state
  var SECTOR = { online: "#e2e8f0", offline: "#8c8c8c" };
  var LINES = { warn: "#e69f00", alarm: "#cc79a7", clear: "#009e73", series: "#56b4e9" };

  function rem(n) { return n * parseFloat(getComputedStyle(document.documentElement).fontSize); }

  function esc(value) { var span = document.createElement("span"); span.textContent = String(value); return span.innerHTML; }

  function rows(pairs) { return pairs.map(function (r) { return "<b>" + r[0] + "</b> " + esc(r[1]); }).join("<br>"); }

  function toLatLng(f) { return [f.geometry.coordinates[1], f.geometry.coordinates[0]]; }

  // only links a browser or a video client opens; never javascript: or data:
  function safeUrl(url) { return /^(https?|rtsp|rtmp):\/\/[^\s"'<>]+$/i.test(url || "") ? url : null; }

  function getJson(path) {
    return fetch(apiRoot + path, { credentials: "same-origin", cache: "no-store" }).then(function (r) {
      if (!r.ok) { throw new Error("HTTP " + r.status); }
      return r.json();
    });
  }

  // --- view sectors ------------------------------------------------------------------------
  // destination on a sphere from lat/lon along a bearing (degrees clockwise from north)
  function destination(lat, lon, bearingDeg, metres) {
    var d = metres / EARTH_M, b = bearingDeg * Math.PI / 180;
    var p1 = lat * Math.PI / 180, l1 = lon * Math.PI / 180;
    var p2 = Math.asin(Math.sin(p1) * Math.cos(d) + Math.cos(p1) * Math.sin(d) * Math.cos(b));
    var l2 = l1 + Math.atan2(Math.sin(b) * Math.sin(d) * Math.cos(p1), Math.cos(d) - Math.sin(p1) * Math.sin(p2));
    return [p2 * 180 / Math.PI, l2 * 180 / Math.PI];
  }

  // the camera, then its arc at the range from heading - fov/2 to heading + fov/2 (a circle at 360°)
  function sectorLatLngs(lat, lon, heading, fov, range) {
    var full = fov >= 360, span = full ? 360 : fov, n = Math.max(2, Math.ceil(span / SECTOR_STEP_DEG) + 1);
    var out = full ? [] : [[lat, lon]];
    for (var i = 0; i < n - (full ? 1 : 0); i += 1) {
      out.push(destination(lat, lon, heading - span / 2 + span * i / (n - 1), range));
    }
    return out;
  }

  function cameraIcon(p) {
    var off = !p.online, size = rem(0.95);
    var fill = off ? "none" : (cfg.colours.cameras["true"] || "#000000");
    return L.divIcon({
      className: "wg-icon wg-camera" + (off ? " wg-camera-offline" : ""),
      iconSize: [size, size],
      html: '<svg viewBox="0 0 16 16"><polygon points="8,1 15,8 8,15 1,8" fill="' + fill + '" stroke="' +
        (off ? SECTOR.offline : "#e2e8f0") + '" stroke-width="2"' + (off ? ' stroke-dasharray="3 2"' : "") + "/></svg>"
    });
  }

  function streamLink(url) {
    var safe = safeUrl(url);
    return safe ? '<a class="wg-stream" target="_blank" rel="noopener" href="' + esc(safe) + '">▶ 视频 stream</a>' : "";
  }

  function cameraPopup(p) {
    return rows([["摄像头", p.name], ["编号", p.code], ["状态", p.online ? "在线 online" : "离线 offline"],
      ["朝向/视角", Math.round(p.heading_deg) + "° / " + Math.round(p.fov_deg) + "°"], ["可视距离", Math.round(p.range_m) + " m"]]) +
      "<br>" + streamLink(p.stream_url);
  }

  function countMarker(f) {
    var count = f.properties.count || 0, size = Math.round(rem(1.7));
    return L.marker(toLatLng(f), {
      icon: L.divIcon({ className: "wg-cluster marker-cluster", iconSize: [size, size], html: "<span>" + count + "</span>" }),
      keyboard: false
    });
  }

  var cameraHeld = {}, cameraSectors = null;

  function cameraMark(f, sectors) {
    var p = f.properties, at = toLatLng(f), off = !p.online, mark = L.layerGroup();
    if (sectors && p.range_m > 0 && p.fov_deg > 0) {
      mark.addLayer(L.polygon(sectorLatLngs(at[0], at[1], p.heading_deg, p.fov_deg, p.range_m), {
        color: off ? SECTOR.offline : SECTOR.online, weight: 1, opacity: off ? 0.9 : 0.7,
        dashArray: off ? "4 4" : null, fill: !off, fillColor: SECTOR.online, fillOpacity: 0.14,
        interactive: false, className: "wg-sector" + (off ? " wg-sector-offline" : "")
      }));
    }
    var marker = L.marker(at, { icon: cameraIcon(p), keyboard: false }).bindPopup(cameraPopup(p));
    marker.wanggeCamera = p.code;
    mark.addLayer(marker);
    mark.wgKey = [at[0], at[1], p.online, p.heading_deg, p.fov_deg, p.range_m, p.stream_url, p.name].join("|");
    return mark;
  }

  function drawCameras(data) {
    var group = layerOf("cameras"), sectors = cfg.level !== "district";
    if (data.mode && data.mode !== "points") {
      group.clearLayers(); cameraHeld = {};
      data.features.forEach(function (f) { group.addLayer(countMarker(f)); });
      document.body.dataset.camerasAt = String(Date.now());
      return;
    }
    if (!Object.keys(cameraHeld).length || cameraSectors !== sectors) { group.clearLayers(); cameraHeld = {}; }
    cameraSectors = sectors;
    keyed(group, cameraHeld, data.features, function (f) { return cameraMark(f, sectors); }, function (mark, f) {
      var fresh = cameraMark(f, sectors);
      if (fresh.wgKey !== mark.wgKey) {  // changed: swap the drawing (a camera's popup is short to reopen)
        group.removeLayer(mark); group.addLayer(fresh); cameraHeld[f.properties.code] = fresh;
      }
    });
    document.body.dataset.camerasAt = String(Date.now());
  }

  // --- cameras to call up ----------------------------------------------------------------------
  function cameraList(cameras) {
    if (!cameras.length) { return '<div class="wg-cams-none">附近无摄像头 no camera near</div>'; }
    return '<ul class="wg-cams">' + cameras.map(function (c) {
      var state = c.online ? "" : " wg-cam-off";
      return '<li class="wg-cam' + state + '" data-camera="' + esc(c.code) + '">' +
        (c.sees ? '<span class="wg-sees" title="视野覆盖 sees the place">◉</span> ' : '<span class="wg-near">○</span> ') +
        esc(c.name) + " · " + Math.round(c.distance_m) + " m" + (c.online ? "" : " · 离线 offline") + " " +
        streamLink(c.stream_url) + "</li>";
    }).join("") + "</ul>";
  }

  // re-measure an open popup whose content grew, without rendering its content again
  // (popup.update() would call the content function anew and lose what was filled in)
  function relayout(popup) {
    if (popup && popup.isOpen() && popup._updateLayout) { popup._updateLayout(); popup._updatePosition(); popup._adjustPan(); }
  }

  function fillCameras(box, popup, promise) {
    box.innerHTML = '<h4>摄像头 Cameras</h4><div class="wg-loading">…</div>';
    promise.then(function (cameras) {
      box.innerHTML = "<h4>摄像头 Cameras</h4>" + cameraList(cameras);
      box.dataset.loaded = "true";
    }).catch(function (err) {
      box.innerHTML = "<h4>摄像头 Cameras</h4><div>✗ " + esc(err.message) + "</div>";
    }).then(function () { relayout(popup); });
  }

  function casePopupOpened(e) {
    // the content may be given as a function: look in what the popup shows
    var shown = e.popup.getElement(), root = shown && shown.querySelector("[data-case]");
    if (!root || root.querySelector(".wg-case-cams")) { return; }
    var box = document.createElement("div");
    box.className = "wg-case-cams";
    root.appendChild(box);
    fillCameras(box, e.popup, getJson("incidents/" + encodeURIComponent(root.dataset.case)).then(function (c) {
      return c.cameras || [];
    }));
  }

  // --- water-level sensors ---------------------------------------------------------------------
  // normal: a hollow triangle; warn: filled; alarm: a larger triangle with "!" and an expanding
  // ring (shape and motion, not only colour); sensor offline: dashed grey outline
  function waterIcon(p) {
    var state = p.sensor_offline ? "offline" : (p.state || "normal"), alarm = state === "alarm";
    var size = rem(alarm ? 1.9 : 1.1), fill = state === "offline" ? "none" : (cfg.colours.water[state] || "none");
    var stroke = state === "offline" ? SECTOR.offline : (fill === "none" ? (cfg.colours.hollow || "#bbbbbb") : "#0b1622");
    var mark = alarm ? '<text x="8" y="13.2" text-anchor="middle" font-size="9" font-weight="700" fill="#0b1622">!</text>' : "";
    return L.divIcon({
      className: "wg-icon wg-water wg-water-" + state,
      iconSize: [size, size],
      html: (alarm ? '<span class="wg-alarm-ring"></span><span class="wg-alarm-ring wg-ring-2"></span>' : "") +
        '<svg viewBox="0 0 16 16"><polygon points="8,1.5 15,14.5 1,14.5" fill="' + fill + '" stroke="' + stroke +
        '" stroke-width="' + (alarm ? 1.5 : 2) + '"' + (state === "offline" ? ' stroke-dasharray="3 2"' : "") + "/>" + mark + "</svg>"
    });
  }

  var STATE_WORDS = { normal: "正常 normal", warn: "警戒 warn", alarm: "报警 ALARM", offline: "离线 offline" };

  function fmtTime(ms) { var d = new Date(ms); return (d.getHours() < 10 ? "0" : "") + d.getHours() + ":" + (d.getMinutes() < 10 ? "0" : "") + d.getMinutes(); }

  // A small chart: the highest value of each bucket over [from, to), and the warn / alarm / clear
  // levels as horizontal lines. Gaps (no reading for over two buckets) break the line.
  function chartSvg(readings, thresholds, fromIso, toIso, step) {
    var w = 320, h = 130, left = 34, right = 8, top = 8, bottom = 20;
    var t0 = Date.parse(fromIso), t1 = Date.parse(toIso), values = [];
    readings.forEach(function (r) { var v = r.max !== undefined ? r.max : r.value; if (v !== null && isFinite(v)) { values.push(v); } });
    var levels = ["warn", "alarm", "clear"].filter(function (k) { return thresholds[k] !== null && thresholds[k] !== undefined; });
    var top_v = Math.max.apply(null, [1].concat(values, levels.map(function (k) { return thresholds[k]; }))) * 1.12;
    var low_v = Math.min.apply(null, [0].concat(values));
    function x(t) { return left + (w - left - right) * (t - t0) / Math.max(1, t1 - t0); }
    function y(v) { return top + (h - top - bottom) * (1 - (v - low_v) / Math.max(1e-9, top_v - low_v)); }
    var parts = ['<svg class="wg-chart" viewBox="0 0 ' + w + " " + h + '" width="' + w + '" height="' + h + '" role="img" aria-label="24 h">',
      '<rect x="' + left + '" y="' + top + '" width="' + (w - left - right) + '" height="' + (h - top - bottom) + '" fill="#0b1622" stroke="#1e3a5f"/>'];
    levels.forEach(function (k) {
      var yy = y(thresholds[k]).toFixed(1);
      parts.push('<line class="wg-line-' + k + '" x1="' + left + '" x2="' + (w - right) + '" y1="' + yy + '" y2="' + yy +
        '" stroke="' + LINES[k] + '" stroke-width="1.5"' + (k === "alarm" ? "" : ' stroke-dasharray="' + (k === "warn" ? "5 3" : "2 3") + '"') + "/>");
      parts.push('<text x="' + (left - 3) + '" y="' + (Number(yy) + 3.5) + '" text-anchor="end" font-size="10" fill="' + LINES[k] + '">' + esc(thresholds[k]) + "</text>");
    });
    var gap = (step || 600) * 2000, runs = [], run = [], last = null;
    readings.forEach(function (r) {
      var v = r.max !== undefined ? r.max : r.value, t = Date.parse(r.time);
      if (v === null || !isFinite(v) || !isFinite(t)) { return; }
      if (last !== null && t - last > gap && run.length) { runs.push(run); run = []; }
      run.push(x(t).toFixed(1) + "," + y(v).toFixed(1)); last = t;
    });
    if (run.length) { runs.push(run); }
    runs.forEach(function (pts) {
      parts.push(pts.length > 1 ? '<polyline class="wg-series" fill="none" stroke="' + LINES.series + '" stroke-width="2" points="' + pts.join(" ") + '"/>'
        : '<circle class="wg-series" r="2" fill="' + LINES.series + '" cx="' + pts[0].split(",")[0] + '" cy="' + pts[0].split(",")[1] + '"/>');
    });
    parts.push('<text x="' + left + '" y="' + (h - 5) + '" font-size="10" fill="#94a3b8">' + fmtTime(t0) + " (−" + Math.round((t1 - t0) / 3600000) + " h)</text>");
    parts.push('<text x="' + (w - right) + '" y="' + (h - 5) + '" font-size="10" text-anchor="end" fill="#94a3b8">' + fmtTime(t1) + " 现在 now</text>");
    if (!values.length) { parts.push('<text x="' + ((w + left) / 2) + '" y="' + (h / 2) + '" font-size="11" text-anchor="middle" fill="#94a3b8">24 小时无读数 no readings</text>'); }
    parts.push("</svg>");
    return parts.join("");
  }

  function waterPopup(p, marker) {
    var root = document.createElement("div"), state = p.sensor_offline ? "offline" : (p.state || "normal");
    root.className = "wg-sensor-popup";
    root.dataset.sensor = p.sensor || "";
    root.innerHTML = '<div class="wg-state wg-state-' + state + '">' + STATE_WORDS[state] + "</div>" +
      rows([["易涝点", p.name], ["水位 cm", p.level_cm], ["警戒/报警", p.warn_level_cm + "/" + p.alarm_level_cm]].concat(
        p.case_id ? [["案件", "#" + p.case_id]] : []));
    var chart = document.createElement("div"), cams = document.createElement("div");
    chart.className = "wg-chart-box"; cams.className = "wg-alarm-cams";
    root.appendChild(chart); root.appendChild(cams);
    var popup = function () { return marker.getPopup(); };
    if (p.sensor) {
      chart.innerHTML = '<div class="wg-loading">…</div>';
      getJson("sensors/" + encodeURIComponent(p.sensor) + "/readings?step=600").then(function (s) {
        chart.innerHTML = "<h4>近24小时 Last 24 h (" + esc(s.unit || "cm") + ")</h4>" + chartSvg(s.readings || [], s.thresholds || {}, s.from, s.to, s.step);
        chart.dataset.loaded = "true";
      }).catch(function (err) { chart.innerHTML = "<div>✗ " + esc(err.message) + "</div>"; })
        .then(function () { relayout(popup()); });
    }
    var at = marker.getLatLng();
    // the marker may sit on a GCJ-02 basemap: ask with the system the wall draws in
    fillCameras(cams, popup(), getJson("cameras/around?k=5&lon=" + at.lng + "&lat=" + at.lat + "&crs=" + (cfg.display || "wgs84"))
      .then(function (a) { return a.cameras; }));
    return root;
  }

  // Markers are kept by code and changed in place, so a popup being read (a chart, the cameras
  // list) stays open while the layer refreshes; points gone from the answer leave the map.
  function keyed(group, held, features, make, refresh) {
    var seen = {};
    features.forEach(function (f) {
      var code = f.properties.code, mark = held[code];
      seen[code] = true;
      if (mark) { refresh(mark, f); } else { held[code] = mark = make(f); group.addLayer(mark); }
    });
    Object.keys(held).forEach(function (code) { if (!seen[code]) { group.removeLayer(held[code]); delete held[code]; } });
  }

  var waterHeld = {};

  function drawWater(data) {
    var group = layerOf("waterlogging");
    if (data.mode && data.mode !== "points") {
      group.clearLayers(); waterHeld = {};
      data.features.forEach(function (f) { group.addLayer(countMarker(f)); });
      document.body.dataset.waterAt = String(Date.now());
      return;
    }
    if (!Object.keys(waterHeld).length) { group.clearLayers(); }
    keyed(group, waterHeld, data.features, function (f) {
      var marker = L.marker(toLatLng(f), { icon: waterIcon(f.properties), keyboard: false,
        zIndexOffset: f.properties.state === "alarm" ? 1000 : 0 });
      marker.wgProps = f.properties;
      // one content per opening: filled in as the chart and cameras arrive, made afresh next time
      marker.bindPopup(function () { return marker.wgContent || (marker.wgContent = waterPopup(marker.wgProps, marker)); },
        { maxWidth: 360, minWidth: 330 });
      marker.on("popupclose", function () { marker.wgContent = null; });
      marker.wanggeWater = f.properties.code;
      return marker;
    }, function (marker, f) {
      var before = marker.wgProps, p = f.properties;
      marker.wgProps = p;
      marker.setLatLng(toLatLng(f));
      if (before.state !== p.state || before.sensor_offline !== p.sensor_offline) {
        marker.setIcon(waterIcon(p));
        marker.setZIndexOffset(p.state === "alarm" ? 1000 : 0);
      }
    });
    document.body.dataset.waterAt = String(Date.now());
  }

  window.wanggeExtension = function (wall) {
    cfg = wall.cfg; map = wall.map; layerOf = wall.layer;
    var at = (cfg.incidents || "/incidents/").lastIndexOf("incidents/");
    apiRoot = at >= 0 ? cfg.incidents.slice(0, at) : "/";
    map.on("popupopen", casePopupOpened);
    return { cameras: drawCameras, waterlogging: drawWater };
  };
  // for tests and other pages
  window.wanggeSensing = { chartSvg: chartSvg, sectorLatLngs: sectorLatLngs, safeUrl: safeUrl };
})();
