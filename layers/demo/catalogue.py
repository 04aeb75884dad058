"""The demo case catalogue and the "4+X" team types.

Modelled on Baohe's list (11 major categories, minor categories each with the
responsible body, handling steps, time limit and closing standard) as the
articles in ``shared/seeds`` describe it. A ``None`` team type means no body
owns the matter and the territory's community takes it (属地兜底).
"""

from __future__ import annotations

from typing import NamedTuple


class TeamType(NamedTuple):
    """A kind of enforcement team; ``core`` marks the "4" of "4+X"."""

    code: str
    name: str
    name_en: str
    core: bool


TEAM_TYPES: tuple[TeamType, ...] = (
    TeamType("city_management", "城管执法", "city management", True),
    TeamType("market_supervision", "市场监管", "market supervision", True),
    TeamType("police_station", "派出所", "police station", True),
    TeamType("traffic_police", "交警", "traffic police", True),
    TeamType("emergency_safety", "应急消防", "safety and fire", False),
    TeamType("environment", "生态环境", "environment", False),
    TeamType("housing", "住建房管", "housing", False),
    TeamType("water_affairs", "水务排水", "water and drainage", False),
    TeamType("municipal", "市政园林", "municipal works", False),
)


class Category(NamedTuple):
    """A minor category of the catalogue (its major category is given by the code)."""

    code: str
    minor_name: str
    team_type: str | None
    hours: int
    closing_standard: str
    level: str = "community"
    duplicate_radius_m: float = 50.0
    duplicate_window_hours: int = 24


MAJOR_CATEGORIES: dict[str, str] = {
    "01": "市容环境",
    "02": "宣传广告",
    "03": "施工管理",
    "04": "街面秩序",
    "05": "市场监管",
    "06": "社会治安",
    "07": "安全生产",
    "08": "生态环境",
    "09": "住房物业",
    "10": "市政设施",
    "11": "园林绿化",
}

_CM, _MS, _PS, _TP = "city_management", "market_supervision", "police_station", "traffic_police"
_ES, _EN, _HO, _WA, _MU = "emergency_safety", "environment", "housing", "water_affairs", "municipal"
_CLEAN = "现场清理完毕，拍照上传"
_STOP = "违法行为已制止并依法处理"
_FIX = "设施修复完好，恢复使用"

CATEGORIES: tuple[Category, ...] = (
    Category("01.01", "暴露垃圾", _CM, 4, _CLEAN),
    Category("01.02", "乱堆物堆料", _CM, 24, _CLEAN),
    Category("01.03", "占道经营", _CM, 2, "摊贩已劝离或入摊群点经营", duplicate_radius_m=100),
    Category("01.04", "店外经营", _CM, 4, "商户已退店经营"),
    Category("01.05", "乱张贴小广告", _CM, 24, _CLEAN),
    Category("01.06", "乱涂写乱刻画", _CM, 48, _CLEAN),
    Category("01.07", "道路不洁", _CM, 4, _CLEAN),
    Category("01.08", "露天烧烤", _CM, 2, _STOP, duplicate_radius_m=100),
    Category("02.01", "违规户外广告", _CM, 72, "违规广告已拆除"),
    Category("02.02", "广告牌破损", _CM, 24, "广告牌已修复或拆除"),
    Category("02.03", "违规悬挂条幅", _CM, 24, "条幅已拆除"),
    Category("02.04", "门头招牌脱落隐患", _CM, 8, "隐患已排除"),
    Category("03.01", "施工扰民", _EN, 8, _STOP, duplicate_radius_m=200, duplicate_window_hours=72),
    Category("03.02", "工地扬尘", _EN, 24, "已落实覆盖、洒水等抑尘措施", duplicate_radius_m=200),
    Category("03.03", "渣土车抛洒滴漏", _CM, 4, _CLEAN, duplicate_radius_m=300),
    Category("03.04", "违规占道施工", _CM, 24, "施工已停止或已办理许可"),
    Category("03.05", "工地围挡破损", _HO, 48, "围挡已修复"),
    Category("04.01", "非机动车乱停放", _CM, 4, "车辆已规整"),
    Category("04.02", "机动车违停", _TP, 2, _STOP),
    Category("04.03", "道路拥堵", _TP, 1, "交通已疏导恢复通行", duplicate_radius_m=300, duplicate_window_hours=2),
    Category("04.04", "交通信号灯故障", _TP, 4, _FIX, duplicate_radius_m=100),
    Category("04.05", "共享单车堆积", _CM, 8, "车辆已清运规整"),
    Category("04.06", "占用盲道", _CM, 8, "盲道已恢复畅通"),
    Category("05.01", "无证无照经营", _MS, 72, "已依法查处"),
    Category("05.02", "食品安全隐患", _MS, 24, "已现场检查并处理", level="street"),
    Category("05.03", "价格欺诈", _MS, 72, "已依法查处"),
    Category("05.04", "销售过期食品", _MS, 24, "问题商品已下架处理"),
    Category("05.05", "虚假宣传", _MS, 120, "已依法查处"),
    Category("05.06", "电梯故障困人", _MS, 1, "人员已解救，电梯已停用检修", level="street"),
    Category("06.01", "邻里纠纷", None, 72, "双方达成调解协议", duplicate_radius_m=30, duplicate_window_hours=168),
    Category("06.02", "社会生活噪音扰民", _PS, 2, _STOP, duplicate_radius_m=100, duplicate_window_hours=12),
    Category("06.03", "可疑人员", _PS, 1, "已核查处置"),
    Category("06.04", "群租房隐患", _PS, 72, "已整改或依法处理"),
    Category("06.05", "流浪乞讨人员", None, 8, "已救助或劝离"),
    Category("06.06", "打架斗殴", _PS, 1, "已依法处置", level="street"),
    Category("07.01", "消防通道堵塞", _ES, 4, "通道已清理畅通"),
    Category("07.02", "电动车楼道充电", _ES, 8, "已清理并宣传教育"),
    Category("07.03", "燃气泄漏隐患", _ES, 1, "隐患已排除", level="street"),
    Category("07.04", "危化品违规存放", _ES, 8, "已依法处置", level="district"),
    Category("07.05", "消防设施损坏", _ES, 24, _FIX),
    Category("07.06", "高空坠物隐患", _HO, 8, "隐患已排除"),
    Category("08.01", "餐饮油烟污染", _EN, 72, "已安装净化设施或停止排放"),
    Category("08.02", "污水直排", _EN, 24, "排放已停止并整改", duplicate_radius_m=200),
    Category("08.03", "露天焚烧", _EN, 2, "火情已扑灭并查处", duplicate_radius_m=300),
    Category("08.04", "工业噪声", _EN, 24, _STOP, duplicate_radius_m=200),
    Category("08.05", "河道漂浮物", _WA, 24, _CLEAN, duplicate_radius_m=200),
    Category("09.01", "违章搭建", _CM, 120, "违建已拆除", level="street"),
    Category("09.02", "物业服务纠纷", _HO, 120, "已协调处理"),
    Category("09.03", "房屋安全隐患", _HO, 24, "已鉴定并落实措施", level="street"),
    Category("09.04", "小区公共设施损坏", _HO, 72, _FIX),
    Category("09.05", "装修扰民", None, 24, "已协调停止扰民施工"),
    Category("10.01", "井盖缺失破损", _WA, 2, "井盖已补齐或更换", duplicate_radius_m=30),
    Category("10.02", "道路破损坑洼", _MU, 48, _FIX),
    Category("10.03", "路灯不亮", _MU, 48, _FIX, duplicate_radius_m=100),
    Category("10.04", "道路积水", _WA, 4, "积水已排除", duplicate_radius_m=200, duplicate_window_hours=12),
    Category("10.05", "供水管道破裂", _WA, 4, _FIX, duplicate_radius_m=100),
    Category("10.06", "雨污水管堵塞", _WA, 24, "管道已疏通"),
    Category("10.07", "公厕设施损坏", _MU, 24, _FIX),
    Category("10.08", "护栏损坏", _MU, 48, _FIX),
    Category("11.01", "树木倒伏", _MU, 4, "倒伏树木已清理", duplicate_radius_m=100),
    Category("11.02", "绿地毁坏", _MU, 72, "绿地已恢复"),
    Category("11.03", "侵占绿地", _CM, 72, "侵占已清除", level="street"),
    Category("11.04", "树木缺株死株", _MU, 120, "已补植"),
    Category("11.05", "绿化带杂物", _MU, 24, _CLEAN),
)

HANDLING_STEPS = "受理→派遣→处置→反馈→核查→结案"
