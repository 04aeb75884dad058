/* The dispatcher's desk: one call from the address to the dispatched case, then the loop and the queue.
 *
 * Everything goes through wangge's API with the token cookie the page set:
 * /geocode (suggestions), /locate (place), /catalogue, /desk/nearby
 * (duplicates, nearest free teams), /incidents (intake and every step),
 * /desk/queue (polled), and /cameras/around when this service has it.
 * Every list is a listbox: arrow keys move, Enter picks; focus stays visible.
 */
(function () {
  "use strict";
  const config = JSON.parse(document.getElementById("wangge-config").textContent);
  const root = config.root || "";
  const $ = (id) => document.getElementById(id);
  const STATUS = {
    accepted: "已受理", dispatched: "已派遣", handling: "处置中", feedback: "已反馈", verified: "已核查",
    closed: "已结案", rejected: "已退件", duplicate: "重复件",
  };
  const ACTIONS = {
    accept: "受理", dispatch: "派遣", reassign: "改派", handle: "处置", feedback: "反馈", verify: "核查",
    close: "结案", return: "退回", reject: "退件", mark_duplicate: "标记重复", escalate: "上报", regrid: "网格调整",
    import: "导入", report: "上报",
  };
  const state = {
    point: null, raw: null, address: null, place: null, category: null, teams: [], team: null,
    caseId: null, caseData: null, key: null, queue: { new: [], overdue: [], returned: [] }, queueKind: "new",
    catalogue: [], cameras: false, callCase: null,
  };

  // ---- API ------------------------------------------------------------------------------------
  async function api(path, options) {
    const response = await fetch(root + path, Object.assign({ credentials: "same-origin" }, options || {}));
    let body = null;
    try { body = await response.json(); } catch (e) { body = null; }
    if (!response.ok) {
      const error = new Error((body && body.detail) || response.statusText);
      error.status = response.status;
      error.body = body || {};
      throw error;
    }
    return body;
  }
  const post = (path, body, headers) => api(path, {
    method: "POST", headers: Object.assign({ "Content-Type": "application/json" }, headers || {}),
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const qs = (params) => new URLSearchParams(params).toString();
  function show(id, text) {
    const el = $(id);
    el.textContent = text || "";
    el.hidden = !text;
  }
  function newKey() {
    if (window.crypto && crypto.randomUUID) return "desk-" + crypto.randomUUID();
    return "desk-" + Date.now().toString(36) + "-" + Math.random().toString(36).slice(2);
  }
  const metres = (m) => (m >= 1000 ? (m / 1000).toFixed(2) + " km" : Math.round(m) + " m");
  const when = (t) => (t ? new Date(t).toLocaleString("zh-CN", { hour12: false }) : "");

  // ---- listbox: arrows move, Enter/Space picks, the input keeps focus ---------------------------
  function listbox(list, input, onPick) {
    let active = -1;
    const items = () => Array.from(list.querySelectorAll('[role="option"]'));
    function mark(index) {
      const all = items();
      if (!all.length) return;
      active = (index + all.length) % all.length;
      all.forEach((li, i) => li.classList.toggle("active", i === active));
      const li = all[active];
      if (input) input.setAttribute("aria-activedescendant", li.id);
      else li.focus();
      li.scrollIntoView({ block: "nearest" });
    }
    function keys(event) {
      const all = items();
      if (event.key === "ArrowDown") { event.preventDefault(); if (list.hidden) list.hidden = false; mark(active + 1); }
      else if (event.key === "ArrowUp") { event.preventDefault(); mark(active - 1); }
      else if ((event.key === "Enter" || (!input && event.key === " ")) && all.length && !list.hidden) {
        const pick = all[active >= 0 ? active : 0];
        if (pick && (active >= 0 || input)) { event.preventDefault(); onPick(pick); }
      } else if (event.key === "Escape" && input) { close(); }
    }
    function close() {
      if (!input) return;
      list.hidden = true;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
    }
    (input || list).addEventListener("keydown", keys);
    if (!input) list.addEventListener("focus", () => { if (active < 0) mark(0); });
    list.addEventListener("click", (event) => {
      const li = event.target.closest('[role="option"]');
      if (li) onPick(li);
    });
    return {
      reset(open) {
        active = -1;
        if (input) {
          list.hidden = !open;
          input.setAttribute("aria-expanded", open ? "true" : "false");
          input.removeAttribute("aria-activedescendant");
        }
      },
      close,
      mark,
    };
  }
  function option(list, id, testid, html, data) {
    const li = document.createElement("li");
    li.id = id;
    li.setAttribute("role", "option");
    li.tabIndex = -1;
    if (testid) li.dataset.testid = testid;
    li.innerHTML = html;
    Object.assign(li.dataset, data || {});
    list.appendChild(li);
    return li;
  }
  const esc = (text) => String(text == null ? "" : text).replace(/[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));

  // ---- the map -----------------------------------------------------------------------------------
  // markers and lines grow with the type (rem), so they read the same on a 4K screen
  const rem = parseFloat(getComputedStyle(document.documentElement).fontSize) || 16;
  const [w, s, e, n] = config.area.bounds;
  const map = L.map("map", { zoomControl: true, keyboard: true, preferCanvas: false });
  map.fitBounds([[s, w], [n, e]]);
  L.control.scale({ imperial: false }).addTo(map);
  L.geoJSON(config.area.geometry, { interactive: false, style: { fill: false, color: "#f8fafc", weight: 3 } })
    .addTo(map);
  const gridLayer = L.geoJSON(null, {
    interactive: false, style: { fill: false, color: "#7dd3fc", weight: Math.max(1, rem / 16), opacity: 0.7 },
  }).addTo(map);
  const teamLayer = L.layerGroup().addTo(map);
  const dupLayer = L.layerGroup().addTo(map);
  const camLayer = L.layerGroup().addTo(map);
  const pinSize = Math.round(1.8 * rem);
  const pinIcon = L.divIcon({ className: "wg-pin", html: "<span></span>", iconSize: [pinSize, pinSize],
    iconAnchor: [pinSize / 2, pinSize] });
  let pin = null;
  let gridTimer = null;
  map.on("moveend resize", () => {
    clearTimeout(gridTimer);
    gridTimer = setTimeout(loadGrids, 250);
  });
  async function loadGrids() {
    if (map.getZoom() < 14) { gridLayer.clearLayers(); return; }
    const b = map.getBounds();
    const bbox = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map((v) => v.toFixed(5)).join(",");
    try {
      const data = await api("/collections/grids/items?" + qs({ bbox, limit: 500 }));
      gridLayer.clearLayers();
      gridLayer.addData(data);
    } catch (err) { /* the grid outlines are context only */ }
  }
  map.on("click", (event) => setPoint(event.latlng.lng, event.latlng.lat, null));

  // ---- the place ---------------------------------------------------------------------------------
  async function setPoint(lon, lat, raw, fly) {
    state.point = { lon, lat };
    state.raw = raw || { x: lon, y: lat, crs: "wgs84" };
    state.key = null; // a new place is a new call: a new idempotency key, no case filed yet
    state.callCase = null;
    if (!pin) {
      pin = L.marker([lat, lon], { draggable: true, icon: pinIcon, keyboard: true, title: "案发位置 place" })
        .addTo(map);
      pin.on("dragend", () => {
        const p = pin.getLatLng();
        state.address = null;
        setPoint(p.lng, p.lat, null);
      });
    } else {
      pin.setLatLng([lat, lon]);
    }
    if (fly) map.setView([lat, lon], Math.max(map.getZoom(), 16));
    show("place-error", "");
    try {
      const place = await api("/locate?" + qs({ lon, lat }));
      state.place = place;
      $("place-grid").textContent = `${place.grid.name} ${place.grid.code}`;
      $("place-community").textContent = `${place.community.name} ${place.community.code}`;
      $("place-street").textContent = `${place.street.name} ${place.street.code}`;
      if (place.near_boundary && place.neighbour) {
        show("near-boundary", `⚠ 近网格边界 Near a boundary: ${place.grid.name} (${place.grid.code}) 与 `
          + `${place.neighbour.name} (${place.neighbour.code}) 相距 ${place.neighbour.distance_m} m`);
      } else {
        show("near-boundary", "");
      }
    } catch (err) {
      state.place = null;
      ["place-grid", "place-community", "place-street"].forEach((id) => { $(id).textContent = "–"; });
      show("near-boundary", "");
      show("place-error", err.status === 404 ? "不在辖区内 Outside the territory: " + err.message : err.message);
    }
    refreshNearby();
    refreshCameras();
  }

  // ---- address suggestions -------------------------------------------------------------------------
  const address = $("address");
  const suggestions = $("suggestions");
  let addressTimer = null;
  let addressSeq = 0;
  const addressBox = listbox(suggestions, address, pickSuggestion);
  address.addEventListener("input", () => {
    clearTimeout(addressTimer);
    addressTimer = setTimeout(suggest, 200);
  });
  address.addEventListener("blur", () => setTimeout(() => addressBox.close(), 150));
  async function suggest() {
    const q = address.value.trim();
    const seq = ++addressSeq;
    if (q.length < 2) { addressBox.reset(false); return; }
    let candidates = [];
    try {
      candidates = (await api("/geocode?" + qs({ q, limit: 8 }))).candidates
        .map((c) => ({ address: c.address, lon: c.lon, lat: c.lat }));
    } catch (err) {
      // no match: the nearest doors, or the most similar addresses, to pick and look up
      candidates = ((err.body && err.body.suggestions) || []).map((text) => ({ address: text }));
    }
    if (seq !== addressSeq) return; // a later keystroke's answer wins
    suggestions.innerHTML = "";
    candidates.forEach((c, i) => {
      const data = c.lon === undefined ? { text: c.address } : { lon: c.lon, lat: c.lat, text: c.address };
      option(suggestions, "sug-" + i, "suggestion", esc(c.address) + (c.lon === undefined
        ? ' <small>(最近门牌 nearest)</small>' : ""), data);
    });
    addressBox.reset(candidates.length > 0);
  }
  async function pickSuggestion(li) {
    address.value = li.dataset.text;
    addressBox.reset(false);
    if (li.dataset.lon === undefined) { suggest(); return; }
    state.address = li.dataset.text;
    await setPoint(Number(li.dataset.lon), Number(li.dataset.lat), null, true);
  }

  // ---- a pasted coordinate with its system --------------------------------------------------------
  async function locateCoords() {
    // "x, y" in the chosen system, or "x y SYSTEM" naming any (e.g. EPSG:4545) in the text itself
    const words = $("coords").value.trim().split(/[\s,，;]+/).filter(Boolean);
    const named = words.length === 3 && !Number.isFinite(Number(words[2])) ? words.pop() : null;
    const parts = words.map(Number);
    if (parts.length !== 2 || parts.some((v) => !Number.isFinite(v))) {
      show("place-error", "坐标格式: 经度, 纬度 (或 东, 北) [坐标系] · give two numbers: x, y [system]");
      return;
    }
    const crs = named || $("crs").value;
    try {
      const found = await api("/locate?" + qs({ lon: parts[0], lat: parts[1], crs }));
      state.address = null;
      await setPoint(found.point.lon, found.point.lat, { x: parts[0], y: parts[1], crs }, true);
    } catch (err) {
      show("place-error", err.message);
    }
  }
  $("coords-go").addEventListener("click", locateCoords);
  $("coords").addEventListener("keydown", (event) => {
    if (event.key === "Enter") { event.preventDefault(); locateCoords(); }
  });

  // ---- the catalogue picker ----------------------------------------------------------------------
  const categoryInput = $("category");
  const categories = $("categories");
  const categoryBox = listbox(categories, categoryInput, pickCategory);
  categoryInput.addEventListener("input", filterCategories);
  categoryInput.addEventListener("focus", filterCategories);
  categoryInput.addEventListener("blur", () => setTimeout(() => categoryBox.close(), 150));
  function filterCategories() {
    const q = categoryInput.value.trim().toLowerCase();
    const found = state.catalogue.filter((c) => !q || `${c.code} ${c.major_name} ${c.minor_name} ${c.team_type || ""}`
      .toLowerCase().includes(q)).slice(0, 40);
    categories.innerHTML = "";
    found.forEach((c, i) => option(categories, "cat-" + i, "category-option",
      `<b>${esc(c.minor_name)}</b> <small>${esc(c.major_name)} · ${esc(c.code)}</small>`, { code: c.code }));
    categoryBox.reset(found.length > 0 && document.activeElement === categoryInput);
  }
  function pickCategory(li) {
    const c = state.catalogue.find((x) => x.code === li.dataset.code);
    state.category = c;
    categoryInput.value = `${c.minor_name} (${c.code})`;
    categoryBox.reset(false);
    $("category-info").textContent = `${c.major_name} · 责任队伍 ${c.team_type || "属地社区"} · 时限 ${c.time_limit_hours} h`;
    refreshNearby();
  }

  // ---- duplicates and the nearest free teams ------------------------------------------------------
  const teamsList = $("teams");
  listbox(teamsList, null, pickTeam);
  function pickTeam(li) {
    state.team = Number(li.dataset.id);
    teamsList.querySelectorAll('[role="option"]').forEach((x) => {
      x.setAttribute("aria-selected", x === li ? "true" : "false");
    });
    li.focus();
  }
  async function refreshNearby() {
    teamLayer.clearLayers();
    dupLayer.clearLayers();
    if (!state.point || !state.category) return;
    let data;
    try {
      data = await api("/desk/nearby?" + qs({ lon: state.point.lon, lat: state.point.lat, category: state.category.code }));
    } catch (err) {
      show("form-error", err.message);
      return;
    }
    state.teams = data.teams;
    teamsList.innerHTML = "";
    if (!data.teams.length) {
      teamsList.innerHTML = `<li class="empty">${data.category.team_type ? "附近无空闲队伍 no free team"
        : "属地社区处置 the community takes it"}</li>`;
    }
    data.teams.forEach((t, i) => {
      const li = option(teamsList, "team-" + t.id, "team-option",
        `<b>${esc(t.name)}</b> <small>${esc(t.code)}</small> <span class="dist">${metres(t.distance_m)}</span>`,
        { id: t.id, distance: t.distance_m });
      li.setAttribute("aria-selected", i === 0 ? "true" : "false");
      L.circleMarker([t.lat, t.lon], { radius: 0.45 * rem, color: "#0f172a", weight: 2, fillColor: "#38bdf8", fillOpacity: 1 })
        .bindTooltip(`${t.name} · ${metres(t.distance_m)}`).addTo(teamLayer);
    });
    state.team = data.teams.length ? data.teams[0].id : null;
    const dups = $("duplicates");
    dups.innerHTML = "";
    if (!data.duplicates.length) dups.innerHTML = '<li class="empty">无 none</li>';
    data.duplicates.forEach((d) => {
      const li = document.createElement("li");
      li.innerHTML = `#${d.id} <span class="status">${esc(STATUS[d.status] || d.status)}</span> `
        + `${metres(d.distance_m)} <button type="button" data-dup="${d.id}">标记重复 Mark duplicate</button>`;
      dups.appendChild(li);
    });
  }
  $("duplicates").addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-dup]");
    if (!button) return;
    const original = Number(button.dataset.dup);
    try {
      // the call is kept, as a duplicate of the case already open
      // the case this call already filed (still accepted), else file the call now
      const own = state.callCase && state.caseId === state.callCase && state.caseData.status === "accepted";
      const id = own ? state.callCase : await fileCase();
      await post(`/incidents/${id}/mark_duplicate`, { duplicate_of: original });
      await loadCase(id);
      refreshQueue();
    } catch (err) { show("form-error", err.message); }
  });

  // ---- cameras, when this service has the camera work ---------------------------------------------
  async function detectCameras() {
    try {
      const doc = await api("/openapi.json");
      state.cameras = Boolean(doc.paths && doc.paths["/cameras/around"]);
    } catch (err) { state.cameras = false; }
    $("cameras-box").hidden = !state.cameras;
  }
  async function refreshCameras() {
    camLayer.clearLayers();
    if (!state.cameras || !state.point) return;
    const list = $("cameras");
    try {
      const data = await api("/cameras/around?" + qs({ lon: state.point.lon, lat: state.point.lat, k: 6 }));
      list.innerHTML = "";
      const seeing = data.cameras.filter((c) => c.sees);
      if (!seeing.length) list.innerHTML = '<li class="empty">无摄像头可见 none sees it</li>';
      seeing.forEach((c) => {
        const li = document.createElement("li");
        li.textContent = `${c.name || c.code} · ${metres(c.distance_m)}${c.status === "offline" ? " · 离线 offline" : ""}`;
        list.appendChild(li);
        L.circleMarker([c.lat, c.lon], { radius: 0.35 * rem, color: "#a78bfa", weight: 2, fillOpacity: 0.2 })
          .bindTooltip(c.name || c.code).addTo(camLayer);
      });
    } catch (err) { list.innerHTML = `<li class="empty">${esc(err.message)}</li>`; }
  }

  // ---- filing and dispatching ---------------------------------------------------------------------
  async function fileCase() {
    if (!state.point || !state.place) throw new Error("先确定位置 choose the place first");
    if (!state.category) throw new Error("先选择类别 choose a category first");
    state.key = state.key || newKey(); // one call, one case, however often submit is pressed
    const body = {
      category: state.category.code, channel: $("channel").value, description: $("description").value,
      location: { lon: state.raw.x, lat: state.raw.y, crs: state.raw.crs },
    };
    const created = await post("/incidents", body, { "Idempotency-Key": state.key });
    // filed: the next submit is another case; the key only guarded this one against a repeated request
    state.key = null;
    state.callCase = created.id;
    return created.id;
  }
  $("call-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    show("form-error", "");
    const button = $("submit-case");
    button.disabled = true;
    try {
      const id = await fileCase();
      await loadCase(id);
      if ($("auto-dispatch").checked && state.caseData.status === "accepted") await step("dispatch");
      refreshQueue();
    } catch (err) {
      show("form-error", err.message);
    } finally {
      button.disabled = false;
    }
  });

  // ---- the case: its log and next steps ------------------------------------------------------------
  function teamName(data) {
    // the log names the team each dispatch chose; the last one is the team on the case now
    const chosen = data.events.filter((ev) => ev.details && ev.details.team && ev.details.team.id === data.team_id);
    return chosen.length ? chosen[chosen.length - 1].details.team.name : "#" + data.team_id;
  }
  async function loadCase(id) {
    const data = await api(`/incidents/${id}`);
    state.caseId = id;
    state.caseData = data;
    $("case-id").textContent = "#" + id;
    const status = $("case-status");
    status.textContent = `${STATUS[data.status] || ""} ${data.status}`;
    status.dataset.status = data.status;
    $("case-summary").textContent = `${data.category_code} · ${data.grid_code} · 时限 ${when(data.deadline)}`
      + (data.team_id ? ` · 队伍 ${teamName(data)}` : "") + (data.overdue ? " · 已超时 overdue" : "");
    const log = $("case-log");
    log.innerHTML = "";
    data.events.forEach((ev) => {
      const li = document.createElement("li");
      const team = ev.details && ev.details.team ? ` → ${ev.details.team.name}` : "";
      li.innerHTML = `<time>${esc(when(ev.at))}</time> <b>${esc(ACTIONS[ev.action] || ev.action)}</b>${esc(team)} `
        + `<small>${esc(ev.actor)}${ev.reason ? " · " + esc(ev.reason) : ""}</small>`;
      log.appendChild(li);
    });
    // the field's photos (report, handling, feedback, verification), each opening full size
    api(`/field/cases/${id}/photos`).then((found) => {
      if (state.caseId !== id) return;
      $("case-photos").innerHTML = found.photos.map((p) => `<a href="${root}${p.url}" target="_blank" rel="noopener">`
        + `<img src="${root}${p.url}" alt="${esc(ACTIONS[p.stage] || p.stage)}" title="${esc(ACTIONS[p.stage] || p.stage)} `
        + `${esc(when(p.taken_at))}" loading="lazy"></a>`).join("");
    }).catch(() => { $("case-photos").innerHTML = ""; });
    document.querySelectorAll("#steps button[data-action]").forEach((button) => {
      const rule = config.steps[button.dataset.action];
      const allowed = rule.from.includes(data.status) && (config.role === "admin" || rule.roles.includes(config.role));
      button.disabled = !allowed;
    });
    show("case-error", "");
  }
  async function step(action) {
    const rule = config.steps[action];
    const reason = $("reason").value.trim();
    if (rule.reason && !reason) {
      show("case-error", "请填写原因 a reason is needed for this step");
      $("reason").focus();
      return;
    }
    const body = { reason };
    if ((action === "dispatch" || action === "reassign") && state.team) body.team_id = state.team;
    try {
      await post(`/incidents/${state.caseId}/${action}`, body);
      $("reason").value = "";
      await loadCase(state.caseId);
      refreshQueue();
    } catch (err) {
      const next = err.body && err.body.next_candidate;
      if (state.caseId) await loadCase(state.caseId).catch(() => {});
      show("case-error", err.message + (next ? ` · 下一候选 next: ${next.name} (${metres(next.distance_m)})` : ""));
    }
  }
  $("steps").addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    if (button && !button.disabled) step(button.dataset.action);
  });

  // ---- the queue, live ----------------------------------------------------------------------------
  const queueList = $("queue");
  const queueLimit = 50;
  listbox(queueList, null, async (li) => {
    const id = Number(li.dataset.id);
    try {
      await loadCase(id);
      const c = state.caseData;
      map.setView([c.lat, c.lon], Math.max(map.getZoom(), 16));
    } catch (err) { show("case-error", err.message); }
  });
  document.querySelectorAll(".tabs [data-kind]").forEach((tab) => {
    tab.addEventListener("click", () => {
      state.queueKind = tab.dataset.kind;
      document.querySelectorAll(".tabs [data-kind]").forEach((t) => t.setAttribute("aria-selected", String(t === tab)));
      drawQueue();
    });
  });
  function drawQueue() {
    queueList.innerHTML = "";
    const items = state.queue[state.queueKind] || [];
    if (!items.length) queueList.innerHTML = '<li class="empty">无 none</li>';
    items.forEach((c) => {
      option(queueList, "q-" + c.id, "queue-item",
        `<b>#${c.id}</b> ${esc(c.category_name)} <small>${esc(STATUS[c.status] || c.status)} · ${esc(c.grid_code)}`
        + ` · ${esc(when(c.kind === "overdue" ? c.deadline : c.reported_at))}</small>`, { id: c.id, kind: c.kind });
    });
  }
  async function refreshQueue() {
    try {
      const data = await api("/desk/queue?" + qs({ area: config.area.code, limit: queueLimit }));
      state.queue = data;
      // each list is cut at the query's limit: say so rather than show a round number as the count
      ["new", "overdue", "returned"].forEach((kind) => {
        $("n-" + kind).textContent = data[kind].length + (data[kind].length >= queueLimit ? "+" : "");
      });
      $("queue-time").textContent = new Date().toLocaleTimeString("zh-CN", { hour12: false });
      drawQueue();
    } catch (err) { $("queue-time").textContent = err.message; }
  }

  // ---- start ----------------------------------------------------------------------------------------
  $("who").textContent = `${config.who} · ${config.area.name}`;
  setInterval(() => { $("clock").textContent = new Date().toLocaleTimeString("zh-CN", { hour12: false }); }, 1000);
  api("/catalogue").then((data) => { state.catalogue = data.categories; }).catch((err) => show("form-error", err.message));
  detectCameras();
  refreshQueue();
  setInterval(refreshQueue, config.refreshMs || 15000);
  window.wanggeDesk = { map, state, setPoint };
}());
