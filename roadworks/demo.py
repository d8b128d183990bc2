"""The founding case: Dongguan Street (东关大街), Xining, 2024, as demo data."""

from __future__ import annotations

from .api.bodies import load_features, load_project
from .auth import Actor
from .registry import Registry

DEMO_ACTOR = Actor(name="demo data", role="admin")
AGENCY = "西宁市城乡建设局"

# Crossing points along Dongguan Street, hand-placed from the scenario: fine for a map, not for navigation.
NANXIAO = [101.7860, 36.6118]
LEDU = [101.7905, 36.6116]
MOSQUE = [101.7947, 36.6114]
GONGHE = [101.7975, 36.6113]
YANGJIA = [101.8030, 36.6112]
JIANGUO = [101.8085, 36.6110]

PROJECT = {
    "id": "dongguan-gas-2024",
    "name": "东关大街燃气管网提升改造项目",
    "description": "东关大街燃气管网提升改造。施工中动态优化交通组织方案，“建成一段、开放一段”。",
    "agency": AGENCY,
    "contact": "12345 政务服务便民热线",
    "timezone": "Asia/Shanghai",
    "pauses": [{"start": "2024-06-01", "end": "2024-08-31",
                "reason": "旅游旺季暂停施工（东关清真大寺、中下南关街一带）"}],
}


def _closure(id: str, line: list, start: str, end: str | None, label: str, **extra) -> dict:
    properties = {
        "project": PROJECT["id"], "road": "东关大街", "direction": "both", "impact": "closed",
        "schedule": {"windows": [{"start": start, "end": end, "label": label}]},
        "detour": "请绕行周边道路；前往西宁火车站的车辆请提前规划路线。", **extra,
    }
    return {"type": "Feature", "id": id, "geometry": {"type": "LineString", "coordinates": line},
            "properties": properties}


CLOSURES = [
    # Planned reopening 5 June: the window runs through 4 June; it reopened on 31 May, 5 days ahead.
    _closure("dongguan-ledu-gonghe", [LEDU, MOSQUE, GONGHE], "2024-04-12", "2024-06-04", "乐都路至共和路段施工",
             **{"from": "乐都路", "to": "共和路", "actual_start": "2024-04-12", "actual_end": "2024-05-31",
                "description": "燃气管网改造封闭施工，历经49天，较原定计划提前5天建成通车。"}),
    _closure("dongguan-ledu-nanxiao", [LEDU, NANXIAO], "2024-09-01", None, "旅游旺季后恢复施工",
             **{"from": "乐都路", "to": "南小街", "description": "燃气管网改造封闭施工，结束日期另行通知。"}),
    _closure("dongguan-yangjia-jianguo", [YANGJIA, JIANGUO], "2024-09-01", None, "旅游旺季后恢复施工",
             **{"from": "杨家三巷", "to": "建国大街", "description": "燃气管网改造封闭施工，结束日期另行通知。"}),
]


def load_demo(registry: Registry) -> bool:
    """Load the founding case into an empty database; leave a database with projects alone."""
    if registry.projects():
        return False
    registry.create_project(load_project(PROJECT), DEMO_ACTOR)
    registry.import_features(load_features({"type": "FeatureCollection", "features": CLOSURES}), DEMO_ACTOR)
    return True
