/* wangge map wall: polls the live endpoints, draws cases, teams, sensors, heat;
 * keeps the KPIs, shading, legend and overdue list current; announces new
 * cases; lets operators verify, close and return a case from its popup;
 * drill-down, clock, kiosk cycling. Loaded by every command view; started by
 * wangge.start(config) once Folium has created the map and its layers.
 *
 * Page parameters (for tests and special screens): refresh=<ms> and
 * cycle=<ms> override the poll and kiosk intervals, sound=1 beeps on a new case. */
(function () {
  "use strict";

  var cfg, map, ext = {}, live = {}, params = new URLSearchParams(window.location.search);
  var seenCases = null, lastOpen = null, canAct = false;
  // while a case's popup is open the cases layer is not redrawn (the popup and
  // what the operator typed would vanish); the latest answer waits in pendingCases
  var openCase = null, pendingCases = null;

  function layer(key) { return window[cfg.layers[key]]; }

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function hms(d) { return pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds()); }

  function clock() { document.getElementById("wg-clock").textContent = hms(new Date()); }

  function refreshed(ok) {
    var el = document.getElementById("wg-refreshed");
    if (ok) { el.textContent = hms(new Date()); }
    el.parentNode.classList.toggle("wg-stale", !ok);
  }

  // sizes follow the root font size (wall.css scales it with the screen)
  function rem(n) { return n * parseFloat(getComputedStyle(document.documentElement).fontSize); }

  function ms(name, fallback) {
    var v = parseInt(params.get(name), 10);
    return v >= 200 ? v : fallback;
  }

  function text(value) { var span = document.createElement("span"); span.textContent = String(value); return span.innerHTML; }

  // The viewport plus a margin, clamped to valid WGS84 degrees. On a GCJ-02
  // basemap the viewport is in GCJ-02; the margin (0.01 deg, ~1 km) covers
  // the shift of at most ~700 m, so no stored point is missed.
  function bboxParam() {
    var b = map.getBounds().pad(0.2), m = cfg.display === "gcj02" ? 0.01 : 0;
    var w = Math.max(-180, b.getWest() - m), s = Math.max(-90, b.getSouth() - m);
    var e = Math.min(180, b.getEast() + m), n = Math.min(90, b.getNorth() + m);
    return [w, s, e, n].map(function (v) { return v.toFixed(5); }).join(",");
  }

  // One poller per layer: conditional GETs with the last ETag, so an unchanged
  // layer costs a 304 and no redraw. ``feed`` (cases only) asks for deltas.
  function poller(name, draw, withBbox, base, feed) {
    var state = { etag: null, key: null, busy: false };
    live[name] = function () {
      if (state.busy) { return; }
      var url = base || (cfg.live.replace("{layer}", name) + "?display=" + cfg.display);
      if (withBbox) { url += "&bbox=" + bboxParam(); }
      var view = url;
      if (feed) { url += feed.since(view); }
      var headers = {};
      if (state.etag && state.key === url) { headers["If-None-Match"] = state.etag; }
      state.busy = true;
      fetch(url, { headers: headers, cache: "no-store", credentials: "same-origin" })
        .then(function (r) {
          if (r.status === 304) { refreshed(true); return null; }
          if (!r.ok) { throw new Error(name + ": HTTP " + r.status); }
          state.etag = r.headers.get("ETag"); state.key = url;
          return r.json();
        })
        .then(function (data) { if (data) { if (feed) { feed.apply(data, view); } else { draw(data); } refreshed(true); } })
        .catch(function (err) { refreshed(false); console.warn("wangge", err.message); })
        .then(function () { state.busy = false; });
    };
  }

  // Open cases come by level (counts per street, clusters, or points: /work/notes/wall_feed.md).
  // In points mode the wall keeps the cases of its view and asks only for what changed since
  // the answer's version (same view): upserts by id, then removals; a complete answer replaces all.
  function caseDeltas(draw) {
    var held = null;
    return {
      since: function (view) { return held && held.view === view ? "&since=" + encodeURIComponent(held.version) : ""; },
      apply: function (data, view) {
        if (data.mode !== "points") { held = null; draw(data); return; }
        if (data.complete || !held || held.view !== view) { held = { view: view, byId: {} }; }
        (data.removed || []).forEach(function (id) { delete held.byId[id]; });
        data.features.forEach(function (f) { held.byId[f.id] = f; });
        held.version = data.version;
        var features = Object.keys(held.byId).map(function (id) { return held.byId[id]; });
        draw({ type: "FeatureCollection", mode: "points", complete: true, version: data.version, features: features });
      }
    };
  }

  function rows(pairs) {
    return pairs.map(function (r) { return "<b>" + r[0] + "</b> " + text(r[1]); }).join("<br>");
  }

  function toLatLng(f) { return [f.geometry.coordinates[1], f.geometry.coordinates[0]]; }

  // --- marks: one shape per layer ---------------------------------------------------------
  var SHAPES = {
    square: '<rect x="2" y="2" width="12" height="12"/>',
    triangle: '<polygon points="8,1.5 15,14.5 1,14.5"/>',
    diamond: '<polygon points="8,1 15,8 8,15 1,8"/>'
  };

  function shapeIcon(shape, fill, size, extra) {
    var stroke = fill === "none" ? cfg.colours.hollow : "#0b1622";
    return L.divIcon({
      className: "wg-icon" + (extra ? " " + extra : ""),
      iconSize: [size, size],
      html: '<svg viewBox="0 0 16 16" fill="' + fill + '" stroke="' + stroke + '" stroke-width="2">' + SHAPES[shape] + "</svg>"
    });
  }

  // a grey disc holding a count: the page's own clusters, the feed's clusters and area counts alike
  function countIcon(count, overdue) {
    var size = Math.round(rem(1.7) + Math.min(rem(1.3), Math.log10(Math.max(1, count)) * rem(0.5)));
    return L.divIcon({
      className: "wg-cluster marker-cluster" + (overdue ? " wg-has-overdue" : ""),
      iconSize: [size, size],
      html: "<span>" + count + "</span>"
    });
  }

  function clusterIcon(cluster) {
    var count = 0, overdue = false;
    cluster.getAllChildMarkers().forEach(function (m) {
      count += m.options.wgCount || 1;
      overdue = overdue || !!m.options.wgOverdue;
    });
    return countIcon(count, overdue);
  }

  // --- cases, with the operator's actions in the popup ------------------------------------------
  var ACTIONS = {
    feedback: [["verify", "核查通过 Verify"], ["return", "退回 Return"]],
    verified: [["close", "结案 Close"], ["return", "退回 Return"]]
  };

  function act(p, action, box) {
    var reasonBox = box.querySelector("textarea"), body = {};
    var result = box.querySelector(".wg-action-result");
    if (action === "return") {
      if (!reasonBox.value.trim()) { result.textContent = "请填写退回原因 a reason is needed"; reasonBox.focus(); return; }
      body.reason = reasonBox.value.trim();
    }
    box.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
    fetch(cfg.incidents + p.id + "/" + action, {
      method: "POST", credentials: "same-origin", cache: "no-store",
      headers: { "Content-Type": "application/json" }, body: JSON.stringify(body)
    }).then(function (r) {
      return r.json().then(function (answer) { return { ok: r.ok, answer: answer }; });
    }).then(function (r) {
      if (!r.ok) { throw new Error(r.answer.detail || r.answer.code); }
      result.textContent = "✓ " + r.answer.status;
      result.dataset.status = r.answer.status;
      window.wangge.refresh();
    }).catch(function (err) {
      result.textContent = "✗ " + err.message;
      box.querySelectorAll("button").forEach(function (b) { b.disabled = false; });
    });
  }

  function casePopup(p) {
    var root = document.createElement("div");
    root.className = "wg-case";
    root.dataset.case = p.id;
    root.innerHTML = rows([["#", p.id], ["类别", p.category], ["状态", p.status + (p.overdue ? " · 超期 overdue" : "")],
      ["期限", p.deadline], ["网格", p.grid_code]]);
    // the clock and the teams (layers.time), read when the popup opens: the feed stays small
    var clock = document.createElement("div");
    clock.className = "wg-case-time";
    root.appendChild(clock);
    fetch(cfg.incidents + p.id, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (c) { if (c) { clock.innerHTML = rows(timeRows(c)); } })
      .catch(function () { clock.textContent = ""; });
    var actions = canAct ? (ACTIONS[p.status] || []) : [];
    if (actions.length) {
      var box = document.createElement("div");
      box.className = "wg-actions";
      actions.forEach(function (a) {
        var button = document.createElement("button");
        button.type = "button"; button.textContent = a[1]; button.dataset.action = a[0];
        button.addEventListener("click", function () { act(p, a[0], box); });
        box.appendChild(button);
      });
      if (actions.some(function (a) { return a[0] === "return"; })) {
        var reason = document.createElement("textarea");
        reason.rows = 2; reason.maxLength = 1000; reason.placeholder = "退回原因 reason to return";
        box.appendChild(reason);
      }
      var result = document.createElement("span");
      result.className = "wg-action-result"; result.setAttribute("role", "status");
      box.appendChild(result);
      root.appendChild(box);
    }
    return root;
  }

  // a due time as a command centre reads it: China time, to the minute
  function chinaTime(iso) {
    return new Date(iso).toLocaleString("zh-CN", { timeZone: "Asia/Shanghai", month: "2-digit", day: "2-digit",
                                                     hour: "2-digit", minute: "2-digit", hour12: false });
  }

  // a case's stage and its due time, a running pause, reworks, the lead and whom it waits for
  function timeRows(c) {
    var out = [["阶段 stage", (c.stage || "—") + (c.stage_due_at ? " · 限 " + chinaTime(c.stage_due_at) : "")]];
    if (c.paused_until && new Date(c.paused_until) > new Date()) {
      out.push(["挂起至 paused until", chinaTime(c.paused_until)]);
    }
    if (c.rework_count) { out.push(["返工 rework", c.rework_count]); }
    var lead = (c.assignments || []).filter(function (a) { return a.role === "lead" && a.status === "active"; })[0];
    if (lead) { out.push(["主办 lead", lead.team_name]); }
    var waiting = (c.waiting_on && c.waiting_on.supporting_teams) || [];
    if (waiting.length) {
      out.push(["等待协办 waiting on", waiting.map(function (w) {
        return w.name + " (限 " + chinaTime(w.due_at) + ")";
      }).join(", ")]);
    }
    return out;
  }

  function caseId(f) { return f.id !== undefined ? f.id : f.properties.id; }

  function caseMarker(f, fresh) {
    var p = Object.assign({ id: caseId(f) }, f.properties), colour = p.overdue ? cfg.colours.overdue : (cfg.colours.cases[p.status] || "#8c8c8c");
    var marker = L.circleMarker(toLatLng(f), {
      radius: rem(0.45), color: fresh ? cfg.colours.newRing : "#0b1622", weight: fresh ? 4 : 1,
      fillColor: colour, fillOpacity: 0.95, className: fresh ? "wg-new" : "", wgOverdue: !!p.overdue
    });
    marker.wanggeCase = p.id;
    return marker.bindPopup(function () { return casePopup(p); }, { maxWidth: rem(24) });
  }

  function countMarker(f) {
    var p = f.properties, count = p.count || 0;
    var marker = L.marker(toLatLng(f), { icon: countIcon(count, p.overdue > 0), wgCount: count, wgOverdue: p.overdue > 0 });
    var lines = [[p.name || "聚合 cluster", count + " 件 cases"]];
    if (p.overdue) { lines.push(["超期 overdue", p.overdue]); }
    return marker.bindPopup(rows(lines));
  }

  // the header's notice of new cases fades after two minutes: a wall shows what is new, not what was
  var noticeTimer = null;
  function notice(message) {
    var news = document.getElementById("wg-news");
    news.textContent = message;
    clearTimeout(noticeTimer);
    noticeTimer = setTimeout(function () { news.textContent = ""; }, 120000);
  }

  function announce(fresh) {
    if (!fresh.length) { return; }
    var first = { id: caseId(fresh[0]), category: fresh[0].properties.category };
    notice("新案件 New: #" + first.id + " " + (first.category || "") + (fresh.length > 1 ? " +" + (fresh.length - 1) : ""));
    document.getElementById("wg-news").dataset.case = first.id;
    if (params.get("sound") === "1") { beep(); }
  }

  function beep() {
    try {
      var audio = new (window.AudioContext || window.webkitAudioContext)(), osc = audio.createOscillator();
      osc.frequency.value = 880; osc.connect(audio.destination); osc.start(); osc.stop(audio.currentTime + 0.25);
    } catch (err) { console.warn("wangge", err.message); }
  }

  function drawCases(data) {
    if (openCase !== null) { pendingCases = data; return; }
    pendingCases = null;
    var cluster = layer("cases"), mode = data.mode || "points", markers, fresh = [];
    if (mode === "points") {
      var ids = {};
      markers = data.features.map(function (f) {
        var id = caseId(f), isNew = seenCases !== null && !seenCases[id];
        ids[id] = true;
        if (isNew) { fresh.push(f); }
        return caseMarker(f, isNew);
      });
      // a case stays "new" until the wall has seen it once without the highlight
      seenCases = Object.assign(seenCases || {}, ids);
    } else {
      markers = data.features.map(countMarker);
    }
    cluster.clearLayers();   // closed cases are absent from the answer: they leave the map here
    cluster.addLayers(markers);
    announce(fresh);
  }

  // --- teams, water levels, cameras, stall zones, heat -----------------------------------------
  function drawPoints(key, shape, colourOf, popupOf, size) {
    return function (data) {
      var group = layer(key);
      group.clearLayers();
      data.features.forEach(function (f) {
        var alarm = f.properties.state === "alarm";
        var icon = shapeIcon(shape, colourOf(f.properties), rem(size), alarm ? "wg-alarm" : "");
        group.addLayer(L.marker(toLatLng(f), { icon: icon, keyboard: false }).bindPopup(popupOf(f.properties)));
      });
    };
  }

  function drawStalls(data) {
    var group = layer("stall_zones");
    group.clearLayers();
    group.addLayer(L.geoJSON(data, {
      style: function () { return { color: cfg.colours.stall, weight: 2, dashArray: "6 4", fill: false }; },
      onEachFeature: function (f, l) {
        var p = f.properties;
        l.bindPopup(rows([["摊群点", p.name], ["开放", p.opens + "–" + p.closes], ["日客流", p.daily_visitors]]));
      }
    }));
  }

  function drawHeat(data) { layer("heat").setLatLngs(data.points); }

  // --- KPIs, shading, legend and overdue list, as the panel poll answers them --------------------
  function drawPanel(data) {
    canAct = !!data.can_act;
    var body = document.getElementById("wg-panel-body");
    var before = {};
    body.querySelectorAll(".wg-kpi-value").forEach(function (el) { before[el.id] = el.textContent; });
    var current = body.querySelector("tr.wg-current");
    body.innerHTML = data.panel;
    body.querySelectorAll(".wg-kpi-value").forEach(function (el) {
      if (before[el.id] !== undefined && before[el.id] !== el.textContent) { el.classList.add("wg-changed"); }
    });
    if (current) {
      var again = body.querySelector('tr[data-code="' + current.getAttribute("data-code") + '"]');
      if (again) { again.classList.add("wg-current"); }
    }
    document.getElementById("wg-legend-shading").innerHTML = data.legend;
    window[cfg.children].eachLayer(function (l) {
      var code = l.feature.properties.code;
      if (data.fills[code]) { l.setStyle({ fillColor: data.fills[code] }); l.feature.properties.fill = data.fills[code]; }
      if (data.values[code] !== undefined) { l.feature.properties.value = data.values[code]; }
    });
    if (lastOpen !== null && data.open_cases > lastOpen && document.getElementById("wg-news").textContent === "") {
      notice("新案件 New case +" + (data.open_cases - lastOpen));
      if (params.get("sound") === "1") { beep(); }
    }
    lastOpen = data.open_cases;
    document.body.dataset.panelAt = String(Date.now());
  }

  function setUpPopups() {
    map.on("popupopen", function (e) {
      var source = e.popup._source;
      openCase = source && source.wanggeCase !== undefined ? source.wanggeCase : null;
    });
    map.on("popupclose", function () {
      openCase = null;
      if (pendingCases) { drawCases(pendingCases); }
    });
  }

  function setUpLive() {
    var size = 1.1;
    setUpPopups();
    poller("cases", drawCases, true, null, caseDeltas(drawCases));
    poller("teams", drawPoints("teams", "square", function (p) { return cfg.colours.teams[p.status] || "none"; },
      function (p) { return rows([["队伍", p.name], ["类型", p.type_name], ["状态", p.status]]); }, size), true);
    poller("waterlogging", ext.waterlogging || drawPoints("waterlogging", "triangle", function (p) { return cfg.colours.water[p.state] || "none"; },
      function (p) { return rows([["易涝点", p.name], ["水位 cm", p.level_cm], ["警戒/报警", p.warn_level_cm + "/" + p.alarm_level_cm]]); }, size), true);
    poller("cameras", ext.cameras || drawPoints("cameras", "diamond", function (p) { return cfg.colours.cameras[String(p.online)]; },
      function (p) { return rows([["摄像头", p.name], ["类型", p.kind]]); }, 0.9), true);
    poller("stall_zones", drawStalls, true);
    poller("heat", drawHeat, false);
    if (cfg.panel) { poller("panel", drawPanel, false, cfg.panel); }
    var all = function () { Object.keys(live).forEach(function (k) { live[k](); }); };
    all();
    setInterval(all, ms("refresh", cfg.refreshMs));
    var timer = null;
    map.on("moveend", function () {
      clearTimeout(timer);
      timer = setTimeout(function () { ["cases", "teams", "waterlogging", "cameras", "stall_zones"].forEach(function (k) { live[k](); }); }, 300);
    });
  }

  function setUpChildren() {
    var children = window[cfg.children], styler = children.options.style;
    // Folium's styler knows the fills the page was loaded with, and a hover's end
    // (resetStyle) asks it again: answer the fill the last panel poll set instead
    children.options.style = function (f) {
      var s = Object.assign({}, styler(f));
      if (f.properties.fill) { s.fillColor = f.properties.fill; }
      return s;
    };
    children.eachLayer(function (l) {
      var p = l.feature.properties;
      l.bindTooltip(p.name, { permanent: true, direction: "center", className: "wg-label" });
      var url = cfg.childUrls[p.code];
      if (url) { l.on("click", function () { window.location.href = url; }); }
    });
  }

  // After a flight (or a resize) Leaflet may keep the size measured before
  // the wall's stylesheet laid the page out, and SVG renderers the bounds of
  // an earlier frame: parts of a large screen then stay blank. Re-measure
  // (tile layers then load what the true size shows) and re-clip the vectors.
  function redrawAll() {
    map.invalidateSize({ pan: false });
    map.eachLayer(function (l) {
      if (l._renderer && l._renderer._update) { l._renderer._update(); }
      if (l instanceof L.GridLayer && l._update) { l._update(); }
    });
    document.body.dataset.redrawnAt = String(Date.now());
  }

  // Kiosk: no editing controls; the view visits each child in turn, then the whole area.
  function setUpKiosk() {
    document.body.classList.add("wg-kiosk");
    var stops = [], children = window[cfg.children], i = 0;
    children.eachLayer(function (l) { stops.push({ bounds: l.getBounds(), code: l.feature.properties.code }); });
    var whole = L.latLngBounds([cfg.bounds[1], cfg.bounds[0]], [cfg.bounds[3], cfg.bounds[2]]);
    stops.push({ bounds: whole, code: null });
    var timer = setInterval(function () {
      var stop = stops[i % stops.length]; i += 1;
      map.once("moveend", redrawAll);
      map.flyToBounds(stop.bounds, { duration: 1.5 });
      document.querySelectorAll(".wg-table tr").forEach(function (tr) {
        tr.classList.toggle("wg-current", tr.getAttribute("data-code") === stop.code);
      });
      document.body.dataset.kioskStop = String(i);
    }, ms("cycle", cfg.cycleMs));
    // a wall's operator (or a test) can hold the view where it is
    window.wangge.pauseKiosk = function () { clearInterval(timer); };
  }

  // narrow screens: the panel is a drawer opened from the header; the legend folds to its shading part
  function setUpDrawer() {
    var toggle = document.getElementById("wg-toggle");
    toggle.addEventListener("click", function () {
      var open = document.body.classList.toggle("wg-panel-open");
      toggle.setAttribute("aria-expanded", String(open));
    });
    document.getElementById("wg-legend").addEventListener("click", function () {
      document.body.classList.toggle("wg-legend-open");
    });
    // the layer list would cover half a phone's map: fold it behind its button there
    if (window.matchMedia("(max-width: 760px)").matches) {
      document.querySelectorAll(".leaflet-control-layers").forEach(function (el) {
        el.classList.remove("leaflet-control-layers-expanded");
        el.querySelector(".leaflet-control-layers-toggle").addEventListener("click", function (e) {
          e.preventDefault();
          el.classList.toggle("leaflet-control-layers-expanded");
        });
      });
    }
  }

  window.wangge = {
    clusterIcon: clusterIcon,
    start: function (config) {
      cfg = config;
      map = window[cfg.map];
      // wall_sensing.js: cameras' view sectors, sensor alarms and charts, cameras in popups
      if (window.wanggeExtension) { ext = window.wanggeExtension({ cfg: cfg, map: map, layer: layer }); }
      clock(); setInterval(clock, 1000);
      setUpDrawer();
      setUpChildren();
      setUpLive();
      window.addEventListener("resize", function () { setTimeout(redrawAll, 200); });
      if (cfg.kiosk) { setUpKiosk(); }
      window.wangge.map = map;
      window.wangge.redraw = redrawAll;
      window.wangge.refresh = function () { Object.keys(live).forEach(function (k) { live[k](); }); };
    }
  };
})();
