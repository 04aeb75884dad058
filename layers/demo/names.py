"""Chinese names for the demo city's streets, communities, roads and people.

Street (街道) and road names are Baohe's own; the generated geometry does not
follow the real streets, so the demo never claims to be the real district.
"""

from __future__ import annotations

import numpy as np

STREETS = (
    "芜湖路街道", "包公街道", "望湖街道", "常青街道", "同安街道",
    "烟墩街道", "骆岗街道", "义城街道", "万年埠街道", "淝河镇",
    "大圩镇", "滨湖世纪社区",
)

_COMMUNITY_HEADS = (
    "滨湖", "紫云", "南湖", "青年", "方兴", "塘西", "花园", "幸福", "明光", "曙光",
    "西园", "东陈", "高庙", "湖滨", "锦绣", "翠竹", "金寨", "徽园", "云谷", "春晖",
)
_COMMUNITY_TAILS = ("", "东", "西", "南", "北", "新村", "花苑", "家园")

ROADS = (
    "宁国路", "芜湖路", "马鞍山路", "徽州大道", "望江东路", "包河大道", "屯溪路", "南二环路",
    "繁华大道", "紫云路", "庐州大道", "锦绣大道", "黄河路", "巢湖路", "九华山路", "云谷路",
    "天山路", "珠江路", "华山路", "嵩山路", "洞庭湖路", "南京路", "广西路", "西藏路",
    "贵阳路", "福州路", "上海路", "武汉路", "杭州路", "长沙路", "成都路", "重庆路",
    "徽园路", "环湖东路", "方兴大道", "中山路", "北京路", "天津路", "兰州路", "延安路",
    "扬子江路", "万年埠路", "淝河路", "大连路", "烟墩路", "骆岗路", "同安路", "义城路",
    "常青路", "望湖路", "花园大道", "秦岭路", "太湖路", "南宁路", "合作化南路", "马鞍山南路",
    "包公大道", "东流路", "四川路", "宿松路",
)

_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程魏苏吕丁任沈"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红飞鹏辉建国志文斌宇浩凯俊峰晨"


def community_names(count: int) -> list[str]:
    """Return ``count`` distinct community names (社区), in a fixed order."""
    names = [f"{head}{tail}社区" for tail in _COMMUNITY_TAILS for head in _COMMUNITY_HEADS]
    if count > len(names):
        raise ValueError(f"at most {len(names)} community names are available")
    return names[:count]


def person_name(rng: np.random.Generator) -> str:
    """Draw a plausible two- or three-character Chinese name."""
    given_len = 1 + int(rng.random() < 0.6)
    given = "".join(_GIVEN[int(i)] for i in rng.integers(0, len(_GIVEN), given_len))
    return _SURNAMES[int(rng.integers(0, len(_SURNAMES)))] + given


def phone_number(rng: np.random.Generator) -> str:
    """Draw an 11-digit mobile number in the 13x/15x/18x ranges."""
    prefix = ("13", "15", "18")[int(rng.integers(0, 3))]
    return prefix + "".join(str(int(d)) for d in rng.integers(0, 10, 9))
