/* The grid worker's phone: report at my position (or a tapped point) with photos; my team's cases;
 * handle, report back and verify on site. Positions are the browser's geolocation: WGS84. */
(function () {
  "use strict";
  const config = JSON.parse(document.getElementById("wangge-config").textContent);
  const $ = (id) => document.getElementById(id);
  const STATUS = {
    accepted: "已受理", dispatched: "已派遣", handling: "处置中", feedback: "已反馈", verified: "已核查",
    closed: "已结案", rejected: "已退件", duplicate: "重复件",
  };
  const state = { point: null, cases: [], current: null };

  async function api(path, options) {
    const response = await fetch(path, Object.assign({ credentials: "same-origin" }, options || {}));
    let body = null;
    try { body = await response.json(); } catch (e) { body = null; }
    if (!response.ok) {
      const error = new Error((body && body.detail) || response.statusText);
      error.status = response.status;
      throw error;
    }
    return body;
  }
  const esc = (text) => String(text == null ? "" : text).replace(/[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  function say(id, text, bad) {
    const el = $(id);
    el.textContent = text;
    el.classList.toggle("bad", Boolean(bad));
  }
  function key() {
    if (window.crypto && crypto.randomUUID) return "m-" + crypto.randomUUID();
    return "m-" + Date.now().toString(36) + "-" + Math.random().toString(36).slice(2);
  }
  // an on-site check needs a fresh fix (maxAge 0): a cached one may be from the way there
  function position(maxAge) {
    return new Promise((resolve, reject) => {
      if (!navigator.geolocation) { reject(new Error("此设备不能定位 no geolocation")); return; }
      navigator.geolocation.getCurrentPosition(
        (p) => resolve({ lon: p.coords.longitude, lat: p.coords.latitude, accuracy: p.coords.accuracy }),
        (err) => reject(new Error("无法定位 cannot get the position: " + err.message)),
        { enableHighAccuracy: true, timeout: 15000, maximumAge: maxAge === undefined ? 5000 : maxAge });
    });
  }
  function photosOf(input) {
    const files = Array.from(input.files || []);
    if (files.length > config.maxPhotos) throw new Error(`最多 ${config.maxPhotos} 张照片 at most ${config.maxPhotos} photos`);
    const big = files.find((f) => f.size > config.maxPhotoBytes);
    if (big) throw new Error(`${big.name} 超过 5 MB`);
    return files;
  }

  // ---- tabs ----------------------------------------------------------------------------------------
  function tab(name) {
    ["report", "cases"].forEach((n) => {
      $("tab-" + n).setAttribute("aria-selected", String(n === name));
      $(n).hidden = n !== name;
    });
    if (name === "report") map.invalidateSize();
    else loadCases();
  }
  $("tab-report").addEventListener("click", () => tab("report"));
  $("tab-cases").addEventListener("click", () => tab("cases"));

  // ---- the map: my area, the chosen point -----------------------------------------------------------
  const [w, s, e, n] = config.area.bounds;
  const map = L.map("map", { zoomControl: true, attributionControl: false });
  map.fitBounds([[s, w], [n, e]]);
  L.geoJSON(config.area.geometry, { interactive: false, style: { color: "#0284c7", weight: 3, fillOpacity: 0.06 } })
    .addTo(map);
  // the grids around, for orientation (there is no basemap by default); only when zoomed in, so a
  // district-wide worker does not pull two thousand outlines over a slow connection
  const grids = L.geoJSON(null, { interactive: false, style: { color: "#64748b", weight: 1, fill: false } }).addTo(map);
  let gridTimer = null;
  map.on("moveend", () => {
    clearTimeout(gridTimer);
    gridTimer = setTimeout(async () => {
      if (map.getZoom() < 15) { grids.clearLayers(); return; }
      const b = map.getBounds();
      const bbox = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map((v) => v.toFixed(5)).join(",");
      try {
        const data = await api(`/collections/grids/items?bbox=${bbox}&limit=200`);
        grids.clearLayers();
        grids.addData(data);
      } catch (err) { /* context only */ }
    }, 300);
  });
  let marker = null;
  function choose(lon, lat, how) {
    state.point = { lon, lat };
    if (!marker) marker = L.circleMarker([lat, lon], { radius: 9, color: "#fff", weight: 3, fillColor: "#dc2626",
      fillOpacity: 1 }).addTo(map);
    else marker.setLatLng([lat, lon]);
    $("point").textContent = `${how} ${lon.toFixed(6)}, ${lat.toFixed(6)}`;
  }
  map.on("click", (event) => choose(event.latlng.lng, event.latlng.lat, "选点 tapped"));
  $("use-position").addEventListener("click", async () => {
    say("report-msg", "定位中… locating");
    try {
      const p = await position();
      choose(p.lon, p.lat, "我的位置 mine");
      map.setView([p.lat, p.lon], 17);
      say("report-msg", "");
    } catch (err) { say("report-msg", err.message, true); }
  });

  // ---- report --------------------------------------------------------------------------------------
  api("/catalogue").then((data) => {
    const select = $("category");
    const groups = {};
    data.categories.forEach((c) => {
      if (!groups[c.major_name]) {
        groups[c.major_name] = document.createElement("optgroup");
        groups[c.major_name].label = c.major_name;
        select.appendChild(groups[c.major_name]);
      }
      const option = document.createElement("option");
      option.value = c.code;
      option.textContent = c.minor_name;
      groups[c.major_name].appendChild(option);
    });
  }).catch((err) => say("report-msg", err.message, true));
  $("photos").addEventListener("change", () => {
    const thumbs = $("thumbs");
    thumbs.innerHTML = "";
    Array.from($("photos").files || []).slice(0, config.maxPhotos).forEach((file) => {
      const img = document.createElement("img");
      img.alt = file.name;
      img.src = URL.createObjectURL(file);
      thumbs.appendChild(img);
    });
  });
  let reportKey = null;
  $("report-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = $("report-submit");
    try {
      if (!state.point) throw new Error("请先定位或在地图上选点 use my position or tap the map");
      if (!$("category").value) throw new Error("请选择类别 choose a category");
      const form = new FormData();
      form.append("category", $("category").value);
      form.append("description", $("description").value);
      form.append("lon", String(state.point.lon));
      form.append("lat", String(state.point.lat));
      form.append("crs", "wgs84");
      photosOf($("photos")).forEach((file) => form.append("photos", file));
      reportKey = reportKey || key(); // a retry on a flaky connection files nothing twice
      button.disabled = true;
      say("report-msg", "提交中… sending");
      const answer = await api("/field/reports", { method: "POST", body: form, headers: { "Idempotency-Key": reportKey } });
      reportKey = null;
      say("report-msg", `已上报 #${answer.id} · ${answer.grid.name} · 照片 ${answer.photos.length} 张`);
      $("report-form").reset();
      $("thumbs").innerHTML = "";
    } catch (err) {
      say("report-msg", err.message, true);
    } finally {
      button.disabled = false;
    }
  });

  // ---- my team's cases -----------------------------------------------------------------------------
  async function loadCases() {
    try {
      const data = await api("/field/cases");
      state.cases = data.cases;
      $("n-cases").textContent = data.count;
      const list = $("case-list");
      list.innerHTML = "";
      if (!data.team) list.innerHTML = '<li class="empty">令牌未绑定队伍 no team on this token</li>';
      else if (!data.cases.length) list.innerHTML = '<li class="empty">暂无任务 nothing dispatched</li>';
      data.cases.forEach((c) => {
        const li = document.createElement("li");
        li.innerHTML = `<button type="button" class="card${c.overdue ? " overdue" : ""}" data-id="${c.id}" `
          + `data-testid="case-card"><b>#${c.id} ${esc(c.category_name)}</b> <span class="status">`
          + `${esc(STATUS[c.status] || c.status)}</span><br><small>${esc(c.address || c.grid_code)} · 时限 `
          + `${esc(new Date(c.deadline).toLocaleString("zh-CN", { hour12: false }))}</small></button>`;
        list.appendChild(li);
      });
    } catch (err) { $("case-list").innerHTML = `<li class="empty bad">${esc(err.message)}</li>`; }
  }
  $("case-list").addEventListener("click", (event) => {
    const card = event.target.closest("[data-id]");
    if (card) openCase(Number(card.dataset.id));
  });
  $("back").addEventListener("click", () => {
    $("case-detail").hidden = true;
    $("case-list").hidden = false;
    loadCases();
  });
  async function openCase(id) {
    const c = await api(`/incidents/${id}`);
    state.current = c;
    $("case-list").hidden = true;
    $("case-detail").hidden = false;
    $("d-id").textContent = "#" + c.id;
    $("d-status").textContent = `${STATUS[c.status] || ""} ${c.status}`;
    $("d-status").dataset.status = c.status;
    const listed = state.cases.find((x) => x.id === c.id);
    $("d-what").textContent = [listed ? listed.category_name : c.category_code, c.description].filter(Boolean).join(" · ");
    $("d-where").textContent = `${c.address || ""} ${c.grid_code} · ${c.lon.toFixed(6)}, ${c.lat.toFixed(6)}`;
    document.querySelectorAll("#case-detail [data-action]").forEach((button) => {
      button.disabled = !config.steps[button.dataset.action].from.includes(c.status);
    });
    const photos = await api(`/field/cases/${id}/photos`);
    $("d-photos").innerHTML = photos.photos.map((p) => `<img src="${p.url}" alt="${esc(p.stage)}" loading="lazy">`).join("");
  }
  document.querySelectorAll("#case-detail [data-action]").forEach((button) => {
    button.addEventListener("click", async () => {
      const action = button.dataset.action;
      const c = state.current;
      try {
        const form = new FormData();
        form.append("reason", $("d-reason").value);
        photosOf($("d-photos-input")).forEach((file) => form.append("photos", file));
        say("d-msg", action === "verify" ? "定位中… locating" : "提交中… sending");
        if (action === "verify") {
          const p = await position(0);
          form.append("lon", String(p.lon));
          form.append("lat", String(p.lat));
        }
        button.disabled = true;
        const answer = await api(`/field/cases/${c.id}/${action}`, { method: "POST", body: form });
        $("d-reason").value = "";
        $("d-photos-input").value = "";
        await openCase(c.id);
        say("d-msg", `${STATUS[answer.status] || answer.status} ${answer.status}`
          + (answer.site ? ` · 距案件 ${Math.round(answer.site.distance_m)} m` : ""));
      } catch (err) {
        say("d-msg", err.message, true);
        button.disabled = false;
      }
    });
  });

  // ---- start ---------------------------------------------------------------------------------------
  $("who").textContent = config.who;
  $("team").textContent = config.team ? "队伍 " + config.team : "";
  loadCases();
  // a phone in a pocket does not poll
  setInterval(() => { if (document.visibilityState === "visible") loadCases(); }, config.refreshMs || 30000);
  window.wanggePhone = { map, state };
}());
