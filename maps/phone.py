"""The grid worker's phone page (``/m``): report at the phone's position, the team's cases, on-site steps.

Light on purpose (a slow connection, a 390 px screen): plain Leaflet with
the worker's area outline and no tile layer unless one is configured,
no Folium, one small script (``static/wangge/phone.js``).
"""

from __future__ import annotations

from typing import Any

from maps.assets import FONT_CSS
from maps.shell import page_shell

_BODY = """
<header class="bar">
  <span class="title">网格员 <span id="who"></span></span>
  <span class="team" id="team"></span>
</header>
<nav class="tabs" role="tablist">
  <button type="button" role="tab" id="tab-report" aria-selected="true" aria-controls="report">上报 Report</button>
  <button type="button" role="tab" id="tab-cases" aria-selected="false" aria-controls="cases">
    任务 My cases <b id="n-cases">0</b></button>
</nav>
<section id="report" role="tabpanel" aria-labelledby="tab-report">
  <div id="map" aria-label="地图: 点击选择位置 tap to choose the place"></div>
  <div class="row">
    <button type="button" id="use-position" data-testid="use-position">◎ 用我的位置 My position</button>
    <span id="point" data-testid="report-point" class="hint">未选位置 no place yet</span>
  </div>
  <form id="report-form">
    <label for="category">类别 Category</label>
    <select id="category" data-testid="report-category" required><option value="">选择类别…</option></select>
    <label for="description">描述 What is wrong</label>
    <textarea id="description" data-testid="report-description" rows="3" maxlength="2000"></textarea>
    <label for="photos">照片 Photos (≤3, JPEG/PNG/WebP ≤5 MB)</label>
    <input id="photos" data-testid="report-photos" type="file" accept="image/jpeg,image/png,image/webp" multiple
           capture="environment">
    <div class="thumbs" id="thumbs"></div>
    <button type="submit" class="primary" id="report-submit" data-testid="report-submit">提交上报 Send report</button>
    <p class="msg" id="report-msg" data-testid="report-result" role="status" aria-live="polite"></p>
  </form>
</section>
<section id="cases" role="tabpanel" aria-labelledby="tab-cases" hidden>
  <ul id="case-list" class="cards"></ul>
  <div id="case-detail" hidden>
    <button type="button" id="back" class="link">← 返回列表 Back</button>
    <h2>案件 <span id="d-id" data-testid="phone-case-id"></span>
      <span class="status" id="d-status" data-testid="phone-case-status"></span></h2>
    <p id="d-what"></p>
    <p class="hint" id="d-where"></p>
    <div class="photos" id="d-photos"></div>
    <label for="d-reason">说明 Note</label>
    <textarea id="d-reason" rows="2" maxlength="1000"></textarea>
    <label for="d-photos-input">照片 Photos (≤3)</label>
    <input id="d-photos-input" data-testid="step-photos" type="file" accept="image/jpeg,image/png,image/webp"
           multiple capture="environment">
    <div class="row steps">
      <button type="button" data-action="handle" data-testid="step-handle">开始处置 Handle</button>
      <button type="button" data-action="feedback" data-testid="step-feedback">处置反馈 Report back</button>
      <button type="button" data-action="verify" data-testid="step-verify">现场核查 Verify on site</button>
    </div>
    <p class="msg" id="d-msg" data-testid="step-result" role="status" aria-live="polite"></p>
  </div>
</section>
"""


def render_phone(config: dict[str, Any]) -> str:
    """The phone page; ``config`` carries the worker's area outline, team, the verify distance and limits."""
    # the regular weight only: the bold one would add 32 KB to a slow connection's load (bold is synthesized)
    return page_shell("网格员 · wangge", "phone", _BODY, config, fonts=FONT_CSS[:1])
