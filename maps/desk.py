"""The dispatcher's desk (``/desk``): one screen for a call, from the address to the dispatched case.

The shell only: ``static/wangge/desk.js`` does the work against the API
(geocode, locate, catalogue, intake, the loop) and the desk's helpers
(``/desk/nearby``, ``/desk/queue``). The hooks named ``data-testid`` are a
stable interface for automation; keep their spelling.
"""

from __future__ import annotations

from typing import Any

from maps.shell import page_shell

CRS_CHOICES = (("wgs84", "WGS84 (GPS)"), ("cgcs2000", "CGCS2000"), ("gcj02", "GCJ-02 (高德/腾讯)"),
               ("bd09", "BD-09 (百度)"), ("EPSG:4548", "EPSG:4548 (高斯-克吕格 117°E)"))

_BODY = """
<header class="bar">
  <h1>接警派遣台 <span class="en">Dispatcher's desk</span></h1>
  <span class="who" id="who"></span>
  <span class="clock" id="clock">--:--:--</span>
</header>
<main class="desk">
<section class="call" aria-label="来电 Call">
  <form id="call-form" autocomplete="off">
    <div class="field combo">
      <label for="address">地址 Address</label>
      <input id="address" data-testid="address-input" type="text" role="combobox" aria-expanded="false"
             aria-autocomplete="list" aria-controls="suggestions" placeholder="如 宁国路1号2栋" maxlength="200">
      <ul id="suggestions" class="list pop" role="listbox" aria-label="地址建议 Suggestions" hidden></ul>
    </div>
    <div class="field row">
      <label for="coords">坐标 Coordinates</label>
      <input id="coords" type="text" placeholder="117.30, 31.80 或 528422 3518553 EPSG:4548" maxlength="80">
      <select id="crs" aria-label="坐标系 Coordinate system">{crs_options}</select>
      <button type="button" id="coords-go">定位 Locate</button>
    </div>
    <p class="hint">也可点击地图或拖动图钉 · or click the map / drag the pin</p>
    <div class="place" aria-live="polite">
      <dl>
        <dt>网格 Grid</dt><dd data-testid="place-grid" id="place-grid">–</dd>
        <dt>社区 Community</dt><dd data-testid="place-community" id="place-community">–</dd>
        <dt>街道 Street</dt><dd id="place-street">–</dd>
      </dl>
      <p class="warn" data-testid="near-boundary" id="near-boundary" hidden></p>
      <p class="error" id="place-error" role="alert" hidden></p>
    </div>
    <div class="field combo">
      <label for="category">类别 Category</label>
      <input id="category" data-testid="category-input" type="text" role="combobox" aria-expanded="false"
             aria-autocomplete="list" aria-controls="categories" placeholder="输入 占道 / 井盖 / 01.03" maxlength="40">
      <ul id="categories" class="list pop" role="listbox" aria-label="类别 Categories" hidden></ul>
      <p class="hint" id="category-info"></p>
    </div>
    <div class="field">
      <span class="label" id="teams-label">最近空闲队伍 Nearest free teams</span>
      <ul id="teams" class="list" role="listbox" aria-labelledby="teams-label" tabindex="0">
        <li class="empty">选择位置和类别后显示 · place and category first</li></ul>
    </div>
    <div class="field">
      <span class="label">附近可能重复 Possible duplicates</span>
      <ul id="duplicates" class="list"><li class="empty">选择位置和类别后显示 · place and category first</li></ul>
    </div>
    <div class="field" id="cameras-box" hidden>
      <span class="label">可见摄像头 Cameras that see the place</span>
      <ul id="cameras" class="list"></ul>
    </div>
    <div class="field row">
      <label for="channel">渠道 Channel</label>
      <select id="channel">
        <option value="hotline">12345 热线</option><option value="police_110">110 联动</option>
        <option value="wechat">微信</option><option value="grid_worker">网格员</option>
      </select>
    </div>
    <div class="field">
      <label for="description">描述 Description</label>
      <textarea id="description" rows="3" maxlength="2000"></textarea>
    </div>
    <div class="field row">
      <label class="check"><input type="checkbox" id="auto-dispatch" checked> 提交后立即派遣 dispatch on submit</label>
      <button type="submit" id="submit-case" data-testid="submit-case" class="primary">提交 Submit</button>
    </div>
    <p class="error" id="form-error" role="alert" hidden></p>
  </form>
</section>
<section class="map-wrap" aria-label="地图 Map"><div id="map"></div></section>
<section class="side">
  <div class="case" aria-live="polite">
    <h2>案件 Case <span data-testid="case-id" id="case-id">–</span>
      <span class="status" data-testid="case-status" id="case-status">–</span></h2>
    <p id="case-summary" class="hint"></p>
    <div class="photos" id="case-photos" aria-label="现场照片 Photos from the field"></div>
    <div class="field row steps" id="steps">
      <button type="button" data-testid="dispatch" id="dispatch" data-action="dispatch" disabled>派遣 Dispatch</button>
      <button type="button" data-action="reassign" disabled>改派 Reassign</button>
      <button type="button" data-action="return" disabled>退回 Return</button>
      <button type="button" data-action="escalate" disabled>上报 Escalate</button>
      <button type="button" data-action="verify" disabled>核查 Verify</button>
      <button type="button" data-action="close" disabled>结案 Close</button>
    </div>
    <input id="reason" type="text" maxlength="1000" placeholder="原因 Reason (退回/改派/上报 需要)"
           aria-label="原因 Reason">
    <p class="error" id="case-error" role="alert" hidden></p>
    <ol id="case-log" class="log" aria-label="日志 Log"></ol>
  </div>
  <div class="queue">
    <h2>待办 Queue <span class="hint" id="queue-time"></span></h2>
    <div class="tabs" role="tablist">
      <button type="button" role="tab" data-kind="new" aria-selected="true">新 New <b id="n-new">0</b></button>
      <button type="button" role="tab" data-kind="overdue" aria-selected="false">超时 Overdue
        <b id="n-overdue">0</b></button>
      <button type="button" role="tab" data-kind="returned" aria-selected="false">退回 Returned
        <b id="n-returned">0</b></button>
    </div>
    <ul id="queue" class="list" role="listbox" aria-label="待办 Queue" tabindex="0"></ul>
  </div>
</section>
</main>
"""


def render_desk(config: dict[str, Any]) -> str:
    """The desk page; ``config`` carries the area, its bounds, role, the loop's steps and the polling interval."""
    options = "".join(f'<option value="{value}">{label}</option>' for value, label in CRS_CHOICES)
    return page_shell("接警派遣台 · wangge", "desk", _BODY.replace("{crs_options}", options), config)
