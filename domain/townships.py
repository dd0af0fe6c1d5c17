"""The district (临淄区) and its townships (镇/街道) and villages (村/社区): reference data.

Codes follow the national statistical division codes: 6 digits for the district, 9 for a
township, 12 for a village, each the prefix of the next. A jurisdiction is one such code and
covers every code it prefixes. These are the seed rows; the admin edits the live table.
"""

from dataclasses import dataclass

DISTRICT_CODE = "370305"


@dataclass(frozen=True)
class Village:
    code: str
    name: str
    area: str  # urban (社区) | rural (村): which 低保 standard its households get


@dataclass(frozen=True)
class Township:
    code: str
    name: str
    area: str  # urban (街道) | rural (镇); the standard follows the village, not this
    villages: tuple[Village, ...]


def village_area(name: str) -> str:
    """社区 (居委会) are urban, 村 (村委会) rural."""
    return "rural" if name.endswith("村") else "urban"


def _township(seq: str, name: str, villages: list[str]) -> Township:
    code = DISTRICT_CODE + seq
    area = "urban" if name.endswith("街道") else "rural"
    first = 1 if area == "urban" else 201  # 居委会 from 001, 村委会 from 201
    return Township(
        code=code,
        name=name,
        area=area,
        villages=tuple(
            Village(f"{code}{first + i:03d}", v, village_area(v)) for i, v in enumerate(villages)
        ),
    )


SEED_TOWNSHIPS: tuple[Township, ...] = (
    _township("001", "闻韶街道", ["闻韶社区", "晏婴社区", "南马坊社区"]),
    _township("002", "雪宫街道", ["雪宫社区", "桓公社区", "太公社区"]),
    _township("003", "辛店街道", ["辛店社区", "大武社区", "牛山社区"]),
    _township("004", "稷下街道", ["稷下社区", "高阳社区", "召口村"]),
    _township("005", "齐陵街道", ["齐陵社区", "淄河社区", "南王村"]),
    _township("100", "齐都镇", ["东古城村", "西关村", "河崖头村"]),
    _township("101", "皇城镇", ["皇城营村", "东高村", "北羊村"]),
    _township("102", "敬仲镇", ["敬仲村", "白兔丘村", "辛庄村"]),
    _township("103", "朱台镇", ["朱台村", "高阳村", "上河村"]),
    _township("104", "凤凰镇", ["刘家村", "东罗村", "褚家村"]),
    _township("105", "金岭回族镇", ["金岭一村", "金岭二村", "南山村"]),
    _township("106", "金山镇", ["金山村", "田旺村", "边河村"]),
)


JURISDICTION_LEVELS = {6: "district", 9: "township", 12: "village"}


def jurisdiction_level(code: str) -> str | None:
    """``district``, ``township`` or ``village`` for a well-formed code of this district, else
    None: a user's jurisdiction must be one of these, never a fragment or a pattern."""
    level = JURISDICTION_LEVELS.get(len(code))
    if level is None or not code.isascii() or not code.isdigit():
        return None
    return level if code.startswith(DISTRICT_CODE) else None


def covers(jurisdiction: str, code: str) -> bool:
    """Whether a user of ``jurisdiction`` may see and act on what lies at ``code``."""
    return jurisdiction_level(jurisdiction) is not None and code.startswith(jurisdiction)
