/* wangge map wall: polls the live endpoints, draws cases, teams, sensors, heat;
 * drill-down, clock, kiosk cycling. Loaded by every command view; started by
 * wangge.start(config) once Folium has created the map and its layers. */
(function () {
  "use strict";

  var cfg, map, live = {};

  function layer(key) { return window[cfg.layers[key]]; }

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function clock() {
    var now = new Date();
    document.getElementById("wg-clock").textContent =
      pad(now.getHours()) + ":" + pad(now.getMinutes()) + ":" + pad(now.getSeconds());
  }

  function refreshed(ok) {
    var now = new Date(), el = document.getElementById("wg-refreshed");
    if (ok) { el.textContent = pad(now.getHours()) + ":" + pad(now.getMinutes()) + ":" + pad(now.getSeconds()); }
    el.parentNode.classList.toggle("wg-stale", !ok);
  }

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
  function poller(name, draw, withBbox, feed) {
    var state = { etag: null, key: null, busy: false };
    live[name] = function () {
      if (state.busy) { return; }
      var url = cfg.live.replace("{layer}", name) + "?display=" + cfg.display;
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

  function popup(rows) {
    return rows.map(function (r) {
      var span = document.createElement("span"); span.textContent = String(r[1]);
      return "<b>" + r[0] + "</b> " + span.innerHTML;
    }).join("<br>");
  }

  function toLatLng(f) { return [f.geometry.coordinates[1], f.geometry.coordinates[0]]; }

  function drawCases(data) {
    var cluster = layer("cases"), markers = data.features.map(function (f) {
      var p = f.properties, colour = p.overdue ? cfg.colours.overdue : (cfg.colours.cases[p.status] || "#888");
      return L.circleMarker(toLatLng(f), { radius: 7, color: "#0b1622", weight: 1, fillColor: colour, fillOpacity: 0.95 })
        .bindPopup(popup([["#", p.id], ["类别", p.category], ["状态", p.status], ["期限", p.deadline],
          ["网格", p.grid_code]]));
    });
    cluster.clearLayers();   // closed cases are absent from the answer: they leave the map here
    cluster.addLayers(markers);
  }

  function drawPoints(key, colourOf, popupOf, radius) {
    return function (data) {
      var group = layer(key);
      group.clearLayers();
      data.features.forEach(function (f) {
        var colour = colourOf(f.properties);
        var marker = L.circleMarker(toLatLng(f), { radius: radius, color: "#0b1622", weight: 1, fillColor: colour, fillOpacity: 0.95 });
        if (f.properties.state === "alarm") {
          marker.setStyle({ color: cfg.colours.water.alarm, weight: 4, className: "wg-alarm" });
        }
        group.addLayer(marker.bindPopup(popupOf(f.properties)));
      });
    };
  }

  function drawStalls(data) {
    var group = layer("stall_zones");
    group.clearLayers();
    group.addLayer(L.geoJSON(data, {
      style: function () { return { color: cfg.colours.stall, weight: 2, fillOpacity: 0.25 }; },
      onEachFeature: function (f, l) {
        var p = f.properties;
        l.bindPopup(popup([["摊群点", p.name], ["开放", p.opens + "–" + p.closes], ["日客流", p.daily_visitors]]));
      }
    }));
  }

  function drawHeat(data) { layer("heat").setLatLngs(data.points); }

  function setUpLive() {
    poller("cases", drawCases, true, caseDeltas(drawCases));
    poller("teams", drawPoints("teams", function (p) { return cfg.colours.teams[p.status] || "#888"; },
      function (p) { return popup([["队伍", p.name], ["类型", p.type_name], ["状态", p.status]]); }, 6), true);
    poller("waterlogging", drawPoints("waterlogging", function (p) { return cfg.colours.water[p.state]; },
      function (p) { return popup([["易涝点", p.name], ["水位 cm", p.level_cm], ["警戒/报警", p.warn_level_cm + "/" + p.alarm_level_cm]]); }, 6), true);
    poller("cameras", drawPoints("cameras", function (p) { return cfg.colours.cameras[String(p.online)]; },
      function (p) { return popup([["摄像头", p.name], ["类型", p.kind]]); }, 4), true);
    poller("stall_zones", drawStalls, true);
    poller("heat", drawHeat, false);
    var all = function () { Object.keys(live).forEach(function (k) { live[k](); }); };
    all();
    setInterval(all, cfg.refreshMs);
    var timer = null;
    map.on("moveend", function () {
      clearTimeout(timer);
      timer = setTimeout(function () { ["cases", "teams", "waterlogging", "cameras", "stall_zones"].forEach(function (k) { live[k](); }); }, 300);
    });
  }

  function setUpChildren() {
    var children = window[cfg.children];
    children.eachLayer(function (l) {
      var p = l.feature.properties;
      l.bindTooltip(p.name, { permanent: cfg.level !== "community", direction: "center", className: "wg-label" });
      var url = cfg.childUrls[p.code];
      if (url) { l.on("click", function () { window.location.href = url; }); }
    });
  }

  // Kiosk: no editing controls; the view visits each child in turn, then the whole area.
  function setUpKiosk() {
    document.body.classList.add("wg-kiosk");
    var stops = [], children = window[cfg.children], i = 0;
    children.eachLayer(function (l) { stops.push({ bounds: l.getBounds(), code: l.feature.properties.code }); });
    var whole = L.latLngBounds([cfg.bounds[1], cfg.bounds[0]], [cfg.bounds[3], cfg.bounds[2]]);
    stops.push({ bounds: whole, code: null });
    setInterval(function () {
      var stop = stops[i % stops.length]; i += 1;
      map.flyToBounds(stop.bounds, { duration: 1.5 });
      document.querySelectorAll(".wg-table tr").forEach(function (tr) {
        tr.classList.toggle("wg-current", tr.getAttribute("data-code") === stop.code);
      });
    }, cfg.cycleMs);
  }

  window.wangge = {
    start: function (config) {
      cfg = config;
      map = window[cfg.map];
      clock(); setInterval(clock, 1000);
      setUpChildren();
      setUpLive();
      if (cfg.kiosk) { setUpKiosk(); }
      window.wangge.map = map;
      window.wangge.refresh = function () { Object.keys(live).forEach(function (k) { live[k](); }); };
    }
  };
})();
