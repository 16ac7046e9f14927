"""Named places in a citizen's Chinese text, for de-duplication (docs/DEDUP.md).

A report without a point (a mailbox letter, a 12345 order whose address was not
geocoded) can only be placed by its words. Two reports naming the same road,
estate, square, school or market are likely about one place; two that both name
places and share none are about two places (a garbage station on 华信路 and an
internet café on 堤口路), however alike the rest of their wording.

:func:`places` finds names by what they end with: a road or street (路, 街, 大街 …,
with its house number when one follows: 经十路17923号), an estate or village (小区,
社区, 新村, 庄, 村 …), a square, park, market, mall, school, hospital, station,
a named venue (夜色酒吧, 金海岸KTV) or a gate (山大北门), and keeps the two
characters before the ending with it: 燕子山小区 → 子山小区, 文化东路 → 化东路,
文化西路 → 化西路. The name is read backwards from the ending and stops at
punctuation and at characters that are not part of a place's name (一家KTV,
该小区, 我们小区, 路口, 附近, 楼下 …), so a nameless mention gives nothing. A
subdistrict (明水街道) is an *area*: too large to say two reports share a place,
enough to say they do not.

No segmenter: jieba would add a dependency and a dictionary to load, and what
decides here is the endings and the stop characters; a name missed only leaves
a pair to be judged by its words.
"""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# What a place's name ends with, longest first at each position.
_ENDINGS = (
    # roads and areas
    "路", "街", "大街", "大道", "巷", "胡同", "街道", "立交桥", "立交", "高架", "大桥", "隧道",
    # where people live
    "小区", "社区", "新村", "花园", "家园", "山庄", "新居", "公寓", "庄", "村", "新城", "大院", "南院", "北院",
    # public places
    "广场", "公园", "园", "市场", "夜市", "商场", "商城", "大厦", "中心", "超市", "步行街",
    "学校", "小学", "中学", "大学", "大学城", "学院", "幼儿园", "医院", "派出所",
    "地铁站", "火车站", "汽车站", "客站", "车站", "教堂", "景区",
    # venues (usually "一家KTV", which names nothing; a name when there is one)
    "酒店", "宾馆", "饭店", "网吧", "酒吧", "ktv", "茶室", "茶楼", "足疗店", "洗浴中心", "棋牌室", "麻将馆",
    "电玩城", "美容院", "烧烤店", "收购站", "中转站", "垃圾站",
)
_ENDING_RE = re.compile("(?:" + "|".join(map(re.escape, sorted(_ENDINGS, key=len, reverse=True)))
                        + ")|[东南西北]门")
AREAS = frozenset({"街道"})
ROADS = frozenset({"路", "街", "大街", "大道", "巷"})
# Characters no place name (as read backwards from its ending) contains: words that point
# instead of naming (一家, 该, 这个, 我们, 附近, 楼下, 门口 …) and the endings of other places
# (区, 路, 街, 门: 经四路小区 is read as 经四路).
_STOP = frozenset("的在是了和与及或到从往向于对那这该某一个住我你他她们有把被给就都也还很又再让叫称说为其此"
                  "本各每些哪近边面围壁前后里外头侧旁间下上处段内号栋单元室层米区县市省镇乡道路街门所组")
# Words before a place that are not part of its name (the verbs of every complaint).
_VERBS_RE = re.compile("希望|请求|反映|反应|投诉|举报|恳请|要求|督促|建议|咨询|求助|麻烦|联系")
# 走路, 堵路, 过马路, 线路, 炸街, 逛街, 沿街 …: 路 and 街 after these are no road; nor before
# 人, 段, 政 … (路人, 路段, 路政).
_NOT_BEFORE_ROAD = frozenset("马走让堵带修问挡拦打幅公岔铁半短远小过上逛沿临满炸宿扫当整线")
_NOT_AFTER_ROAD = frozenset("人过段线费况程政")
# Two characters before an ending that name nothing in particular (音乐酒吧, 连锁酒店, 底商超市;
# 人民医院, 民办学校, 文化市场, 服务中心, 培训学校: every county has one). Found, with the stop
# characters, on real citizen messages of another province (TipDM 2020, kept out of the repo).
_GENERIC = frozenset({
    "底商", "连锁", "快捷", "音乐", "垃圾", "废品", "天主", "大型", "小型", "露天", "地下", "居民", "宿舍", "中小",
    "农贸", "菜市", "步行", "停车", "商业", "购物", "洗浴", "足疗", "广场", "公园", "小区", "社区", "学校", "入口",
    "出口", "人民", "中心", "实验", "信息", "预防", "疾控", "民办", "公办", "私立", "公立", "私人", "自己", "影响",
    "文化", "附属", "妇幼", "中医", "交易", "二手", "旅游", "工业", "产业", "科技", "物流", "批发", "管理",
    "服务", "培训", "职业", "新农", "城中", "儿童", "医药", "美好", "惠性", "占用", "导致", "部分", "全体",
})
# Punctuation, spaces and symbols, and the verbs before a place, all end a name.
_SEPARATORS_RE = re.compile(r"[\W_]+|" + _VERBS_RE.pattern)
_HOUSE_NUMBER = re.compile(r"\d{1,5}号(?!楼)")
_NAME_CHARS = 2


@lru_cache(maxsize=65536)
def _found(text: str | None) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """(places, the same without areas, their names) of a text; see :func:`places`."""
    t = _SEPARATORS_RE.sub("|", unicodedata.normalize("NFKC", text or "").lower())
    found: dict[str, str] = {}  # place → its name
    areas: set[str] = set()
    for m in _ENDING_RE.finditer(t):
        ending, start, end = m.group(), m.start(), m.end()
        if ending in ("路", "街") and (t[start - 1:start] in _NOT_BEFORE_ROAD or t[end:end + 1] in _NOT_AFTER_ROAD):
            continue
        if ending == "广场" and t[end:end + 1] == "舞":  # 广场舞: a dance, not a square
            continue
        i = start
        while i > 0 and start - i < _NAME_CHARS and t[i - 1] != "|" and t[i - 1] not in _STOP:
            i -= 1
        name = t[i:start]
        if len(name) < _NAME_CHARS or name in _GENERIC:
            continue
        found[name + ending] = name
        if ending in AREAS:
            areas.add(name + ending)
        elif ending in ROADS and (number := _HOUSE_NUMBER.match(t, end)):
            found[name + ending + number.group()] = name
    return frozenset(found), frozenset(found.keys() - areas), frozenset(found.values())


def places(text: str | None) -> frozenset[str]:
    """The named places in ``text`` (NFKC, lower case; punctuation ends a name): 华信路,
    子山小区, 经十路17923号, 明水街道 (an area) …"""
    return _found(text)[0]


SHARED, CONFLICT, UNKNOWN = "shared", "conflict", "unknown"


def relation(a: str | None, b: str | None) -> tuple[str, tuple[str, ...]]:
    """How the places two texts name relate: (SHARED, the places both name) when they name a
    common place (not only a common area); (CONFLICT, ()) when both name places and no name
    (the characters before the ending) is common to them; (UNKNOWN, ()) otherwise — a text
    naming nothing, or a name in common under two endings (燕子山路, 燕子山小区)."""
    all_a, spots_a, names_a = _found(a)
    all_b, spots_b, names_b = _found(b)
    if not all_a or not all_b:
        return UNKNOWN, ()
    shared = spots_a & spots_b
    if shared:
        return SHARED, tuple(sorted(shared))
    if names_a.isdisjoint(names_b):
        return CONFLICT, ()
    return UNKNOWN, ()


__all__ = ["AREAS", "CONFLICT", "SHARED", "UNKNOWN", "places", "relation"]
