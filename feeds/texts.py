"""Chinese text material for the simulated feed: places, people, request texts.

Kept apart from ``simulator.py`` so the numbers (rates, shares) and the words
can be reviewed separately. Templates use ``str.format`` slots; a slot is filled
from the request's own context (its place) first, then from :data:`VOCAB`.
Titles and contents read like hotline work orders (工单): who reports, where,
since when, what happened, what they want.
"""
from __future__ import annotations

import random
import string
from collections.abc import Mapping
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

# --- places -----------------------------------------------------------------


@dataclass(frozen=True)
class Area:
    """An urban centre inside a district (named after its 街道/station area)."""

    name: str
    lat: float
    lon: float
    roads: tuple[str, ...]
    estates: tuple[str, ...]
    weight: float = 1.0


def _a(name: str, lat: float, lon: float, roads: str, estates: str, weight: float = 1.0) -> Area:
    return Area(name, lat, lon, tuple(roads.split()), tuple(estates.split()), weight)


@dataclass(frozen=True)
class Locale:
    """Where in one district the simulator places requests."""

    share: float  # of the city's requests, after urban population: the central districts carry most
    central: bool  # fewer incidents out in the villages, and tighter around the centres
    areas: tuple[Area, ...]


# Per district of the boundary data (geo/data), the one list of them here. Anchors are real
# centres (WGS84), each checked to lie inside its district's boundary; road and
# neighbourhood names are those of the area or plausible ones.
LOCALES: dict[str, Locale] = {
    "历下区": Locale(13, True, (
        _a("泉城路", 36.6640, 117.0200, "泉城路 芙蓉街 县西巷 黑虎泉西路 省府前街 趵突泉北路", "县东巷小区 王府池子片区 曲水亭街片区 按察司街小区", 1.3),
        _a("大明湖", 36.6740, 117.0260, "明湖东路 明湖路 东关大街 历山路 山水沟街", "东关小区 百花洲片区 东仓小区 大明湖小区"),
        _a("文东", 36.6640, 117.0500, "文化东路 山师东路 历山路 和平路 青年东路", "山师东路小区 文东小区 窑头小区 和平新村", 1.2),
        _a("甸柳", 36.6670, 117.0620, "燕子山西路 甸柳庄路 二环东路 文化东路", "甸柳新村 甸柳庄小区 燕子山小区 燕山新居", 1.2),
        _a("千佛山", 36.6470, 117.0350, "千佛山路 经十路 历山路 千佛山东路", "千佛山东小区 佛山苑 环山小区 南康小区"),
        _a("姚家", 36.6660, 117.0950, "经十路 解放东路 浆水泉路 转山西路", "姚家小区 鑫苑名家 龙奥天街 浆水泉小区"),
        _a("龙洞", 36.6500, 117.1250, "龙洞路 奥体中路 龙奥北路 经十路", "龙洞小区 龙奥金座 港西小区 奥体花园", 0.8),
    )),
    "市中区": Locale(13, True, (
        _a("大观园", 36.6600, 116.9930, "经四路 经二路 纬二路 纬四路 经三路", "大观园小区 经四路小区 万达广场 纬二路小区", 1.3),
        _a("魏家庄", 36.6580, 117.0050, "经七路 纬一路 顺河街 经六路", "魏家庄小区 经七路小区 顺河小区"),
        _a("二七", 36.6390, 117.0000, "英雄山路 马鞍山路 二七新村南路 建设路", "二七新村 英雄山小区 马鞍山小区 建设路小区", 1.2),
        _a("舜玉", 36.6300, 117.0150, "舜耕路 舜玉路 玉函路 郎茂山路", "舜玉小区 玉函小区 舜耕小区 郎茂山小区", 1.2),
        _a("七贤", 36.6170, 117.0000, "二环南路 英雄山路 党杨路", "七贤小区 阳光舜城 中海国际社区"),
        _a("王官庄", 36.6300, 116.9760, "郎茂山路 经十路 王官庄路", "王官庄小区 南辛庄小区 世纪佳园"),
        _a("党家", 36.5700, 116.9700, "党杨路 党家庄路 104国道", "党家庄小区 兴济河小区", 0.5),
    )),
    "槐荫区": Locale(10, True, (
        _a("段店北路", 36.6650, 116.9400, "经十路 段店北路 经七路 齐州路", "段店小区 经十路小区 段店新村"),
        _a("营市街", 36.6630, 116.9580, "营市街 经七路 纬十二路 青年西路", "营市街小区 营市东街小区 青年西路小区"),
        _a("中大槐树", 36.6680, 116.9550, "经二路 纬十二路 振兴街", "中大槐树小区 槐荫广场小区 振兴街小区"),
        _a("张庄路", 36.6750, 116.9300, "张庄路 经十路 刘长山路 匡山路", "张庄小区 匡山小区 刘长山小区"),
        _a("西客站", 36.6680, 116.8950, "日照路 齐鲁大道 腊山河西路 威海路", "西城家园 阳光新城 大金家园 绿地国际城", 1.2),
        _a("美里湖", 36.7100, 116.9150, "美里路 济齐路 二环西路", "美里新居 美里湖小区", 0.6),
    )),
    "天桥区": Locale(10, True, (
        _a("天桥东街", 36.6720, 116.9900, "车站街 天桥东街 馆驿街 纬一路", "车站街小区 馆驿街小区 天桥小区"),
        _a("北坦", 36.6820, 116.9850, "北坦大街 标山路 济泺路", "北坦小区 标山南路小区 北坦新村"),
        _a("工人新村", 36.6880, 117.0000, "济泺路 无影山东路 北园大街", "工人新村北村 工人新村南村 泉星小区", 1.2),
        _a("无影山", 36.6950, 116.9830, "无影山中路 堤口路 无影山东路", "无影山小区 堤口小区 名泉春晓"),
        _a("官扎营", 36.6800, 117.0050, "官扎营街 北园大街 生产路", "官扎营新区 官扎营小区 生产路小区"),
        _a("北园", 36.6960, 117.0250, "北园大街 历山北路 北园路", "北园小区 鑫达小区 龙湖北城"),
        _a("泺口", 36.7200, 117.0050, "泺口南路 济泺路 黄河大堤路", "泺口小区 泺口新村 泺口服装城", 0.7),
    )),
    "历城区": Locale(16, True, (
        _a("洪家楼", 36.6820, 117.0680, "洪家楼南路 花园路 山大北路 洪楼西路", "洪家楼小区 洪楼广场 山大北路小区", 1.3),
        _a("全福", 36.6880, 117.0550, "花园路 二环东路 闵子骞路", "全福小区 盛福花园 全福庄小区", 1.2),
        _a("华山", 36.7150, 117.0600, "华山北路 华龙路 工业北路", "华山片区 华山湖小区 华山新居"),
        _a("东风", 36.6740, 117.0770, "二环东路 花园路 辛祝路", "东风小区 祝甸小区 辛甸小区", 1.1),
        _a("王舍人", 36.7150, 117.1280, "工业北路 飞跃大道 坝子路", "王舍人小区 滨河新区 鲍山花园"),
        _a("唐冶", 36.6900, 117.2300, "唐冶西路 世纪大道 凤鸣路", "唐冶新区 唐冶小区 中海国际"),
        _a("港沟", 36.6300, 117.1650, "旅游路 港沟路 经十东路", "港沟小区 港沟新村", 0.7),
    )),
    "长清区": Locale(6, False, (
        _a("文昌", 36.5530, 116.7400, "峰山路 清河街 龙泉大街 经十西路", "清河小区 峰山小区 文昌小区", 1.4),
        _a("平安", 36.5600, 116.8100, "大学路 海棠路 紫薇路", "大学城片区 平安小区 紫薇花园"),
        _a("崮云湖", 36.5000, 116.8300, "崮云湖路 104国道", "崮云湖小区 崮山新村", 0.5),
    )),
    "章丘区": Locale(9, False, (
        _a("明水", 36.7200, 117.5300, "汇泉路 山泉路 百脉泉路", "明水小区 百脉泉小区 汇泉小区", 1.5),
        _a("双山", 36.7050, 117.5600, "双山大街 铁道北路 唐王山路", "双山小区 唐王山小区"),
        _a("圣井", 36.6800, 117.4600, "圣井路 经十东路", "圣井小区 龙山新村", 0.6),
    )),
    "济阳区": Locale(5, False, (
        _a("济阳", 36.9780, 117.1740, "纬一路 开元大街 正安路 经一路", "开元小区 正安小区 纬一路小区", 1.5),
        _a("济北", 37.0000, 117.2100, "开元大街 富阳街", "济北小区 富阳小区"),
    )),
    "莱芜区": Locale(9, False, (
        _a("凤城", 36.2140, 117.6770, "凤城大街 鲁中大街 汶河大道", "凤城小区 汶河小区 鲁中小区", 1.5),
        _a("鹏泉", 36.1950, 117.6450, "长勺路 龙潭路 鹏泉路", "鹏泉小区 龙潭小区"),
        _a("张家洼", 36.2500, 117.6200, "嬴牟大街 张家洼路", "张家洼小区 嬴牟新村", 0.6),
    )),
    "钢城区": Locale(3, False, (
        _a("艾山", 36.0600, 117.8120, "府前大街 钢都大街 双元大街", "艾山小区 钢都小区", 1.5),
        _a("颜庄", 36.0300, 117.7700, "颜庄路 府前大街", "颜庄小区"),
    )),
    "平阴县": Locale(3, False, (
        _a("榆山", 36.2870, 116.4560, "榆山路 青龙路 翠屏街", "榆山小区 翠屏小区", 1.5),
        _a("锦水", 36.2750, 116.4400, "锦水街 平阴大道", "锦水小区"),
    )),
    "商河县": Locale(3, False, (
        _a("许商", 37.3100, 117.1570, "商中路 富源街 长青街", "许商小区 富源小区", 1.5),
        _a("玉皇庙", 37.2600, 117.1300, "玉皇庙大街", "玉皇庙小区"),
    )),
}

# Villages for the share of incidents outside the towns (spread over the district).
VILLAGES = ("王庄", "李家庄", "张家村", "前进村", "东关村", "刘家寨", "后屯村", "西沟村", "马家庄", "孙家峪", "北杨村", "南店村")


# --- people -----------------------------------------------------------------

# Common surnames, heavier where Shandong has many of them.
SURNAMES: tuple[tuple[str, int], ...] = (
    ("王", 90), ("张", 85), ("李", 85), ("刘", 70), ("孙", 40), ("赵", 35), ("杨", 35),
    ("陈", 35), ("徐", 30), ("高", 28), ("马", 25), ("于", 22), ("田", 18), ("宋", 18),
    ("郭", 18), ("韩", 16), ("孔", 10), ("曹", 12), ("吴", 14), ("周", 14), ("朱", 12),
    ("胡", 10), ("郑", 10), ("董", 12), ("崔", 10), ("吕", 9), ("魏", 9), ("石", 8),
    ("丁", 8), ("姜", 9), ("任", 8), ("邢", 6), ("贾", 7), ("尹", 5), ("侯", 7), ("范", 6),
)
# Given names: single characters, and two-character names as people have them
# (random pairs of characters read oddly: 娟桂, 超伟).
_SINGLE_MALE = "伟强磊军勇杰涛明超鹏浩波辉刚健鑫凯宇晨俊斌峰亮成"
_SINGLE_FEMALE = "芳娜敏静丽艳娟霞燕玲婷雪慧颖琳倩洁红梅晶欣悦萍"
_DOUBLE = (
    "建国 志强 立新 国庆 建华 秀兰 桂英 玉珍 淑芬 春梅 海燕 晓东 子涵 一鸣 欣怡 浩然 "
    "文博 俊杰 志刚 永强 春雷 海涛 晓明 宏伟 建军 卫东 德胜 长青 明辉 思远 子轩 宇航 "
    "秀梅 丽华 玉兰 红霞 凤英 桂芳 晓燕 雅婷 佳怡 梦瑶 诗涵 雨欣 静怡 欣然 慧敏 美玲"
).split()
# Mobile prefixes in use (13x, 15x, 18x, 19x).
_MOBILE_PREFIXES = (
    "130", "131", "132", "133", "134", "135", "136", "137", "138", "139",
    "150", "151", "152", "153", "155", "156", "157", "158", "159",
    "180", "181", "182", "183", "184", "185", "186", "187", "188", "189",
    "191", "193", "195", "196", "197", "198", "199",
)


def person_name(rng: random.Random) -> str:
    surname = rng.choices([s for s, _ in SURNAMES], weights=[w for _, w in SURNAMES])[0]
    if rng.random() < 0.35:
        return surname + rng.choice(_SINGLE_MALE if rng.random() < 0.5 else _SINGLE_FEMALE)
    return surname + rng.choice(_DOUBLE)


def mobile(rng: random.Random) -> str:
    return rng.choice(_MOBILE_PREFIXES) + "".join(rng.choice(string.digits) for _ in range(8))


# --- request texts -----------------------------------------------------------

def _amount(rng: random.Random) -> str:
    if rng.random() < 0.3:
        return f"{rng.randint(11, 98) / 10:g}万元"
    return f"{rng.choice((600, 800, 1200, 1500, 2000, 2600, 3000, 3500, 4800, 5000, 6800, 8000, 9900))}元"


# A slot's value: a word list (entries may contain slots themselves), a
# callable, or a list of namespaces for slots that come in pairs ({dispute.short}).
VOCAB: dict[str, Any] = {
    "since": ("近一周来", "最近半个月", "从上个月开始", "这几天", "近两个月来", "入夏以来", "从本周一开始",
              "已经持续十多天", "连续三个晚上", "近一个月", "今年以来", "最近一段时间"),
    "night": ("每天晚上十点以后", "凌晨一两点", "每晚十一点左右", "晚上九点到十二点", "深夜", "每天早上五六点",
              "午休时间", "夜里十二点多", "周末晚上"),
    "ago": ("今天上午", "昨天晚上", "今天下午", "昨天夜里", "今天凌晨", "前天傍晚", "半小时前", "刚才", "今天中午",
            "本周二", "上周末", "昨天上午", "三天前"),
    "noise_src": ("烧烤摊", "广场舞音响", "KTV", "酒吧", "改装车辆", "工地夜间施工", "楼上住户", "商铺喇叭促销",
                  "装修施工", "夜市摊贩", "麻将馆", "健身房"),
    "item": ("电动车", "电动车电瓶", "自行车", "手机", "钱包", "快递包裹", "车内财物", "电动三轮车", "摩托车",
             "家中现金", "笔记本电脑"),
    "amount": _amount,
    "fraud_type": ("刷单返利", "冒充电商客服退款", "虚假投资理财", "冒充公检法", "网络贷款", "游戏装备交易",
                   "冒充熟人借钱", "虚假购物", "注销校园贷", "冒充领导"),
    "app": ("微信", "QQ", "某短视频平台", "某交友软件", "一个陌生网站", "某二手交易平台", "陌生电话"),
    "people": ("家中老人", "孩子", "妻子", "父亲", "母亲", "丈夫", "女儿", "儿子"),
    "traffic_issue": ("车辆乱停乱放", "机动车占用人行道停放", "大货车夜间超速行驶", "信号灯故障", "电动车逆行闯红灯",
                      "上下学时段接送车辆拥堵", "车辆占用消防通道", "早晚高峰拥堵严重", "车辆违法掉头"),
    "hh_matter": ("新生儿落户", "户口迁移", "身份证补领", "居住证", "投靠落户", "大中专学生落户", "人才落户",
                  "户口本更名", "身份证异地换领", "户口注销"),
    "ee_doc": ("护照", "港澳通行证", "往来台湾通行证", "港澳通行证签注", "护照换发"),
    "veh_matter": ("驾驶证期满换证", "机动车年检", "补领行驶证", "新车上牌", "外地车辆转入", "驾驶证补证",
                   "交通违法处理", "二手车过户"),
    "officer": ("出警民警", "值班民警", "户籍窗口工作人员", "接警民警", "社区民警", "车管窗口工作人员", "辅警"),
    "wait": ("等了四十多分钟", "过了一个多小时", "等了近半小时", "过了五十分钟"),
    "lost": ("钱包", "手机", "身份证", "双肩包", "行李箱", "银行卡", "钥匙", "笔记本电脑"),
    "bag": ("钱包", "双肩包", "手提包", "行李箱", "公文包"),
    "visit_day": ("今天上午", "昨天上午", "昨天下午", "本周二", "上周五", "前天", "今天下午"),
    "ride": ("出租车", "公交车", "网约车", "地铁"),
    "dispute": [SimpleNamespace(short=s, long=lg) for s, lg in (
        ("邻里", "与邻居因楼上漏水"), ("租房", "与房东因押金退还"), ("物业", "与物业因停车收费"),
        ("消费", "与商家因退货退款"), ("欠薪", "与包工头因拖欠工资"), ("交通事故", "与对方因交通事故赔偿"),
        ("家庭", "与家人因赡养老人"), ("邻里", "与邻居因楼道堆放杂物"), ("装修", "与装修公司因工程质量"),
    )],
}

# Who speaks, by channel (the first words of a work order).
WHO: dict[str, tuple[str, ...]] = {
    "hotline_12345": ("市民来电", "来电人", "市民"),
    "cad_110": ("报警人",),
    "call": ("群众来电", "来电人"),
    "letter": ("来信人", "群众来信"),
    "visit": ("来访人", "来访群众"),
    "director_mailbox": ("网民在局长信箱留言", "留言人"),
    "discipline_hotline": ("来电人通过纪委政务监督热线",),
    "open311": ("网友", "网民在网上平台"),
    "service_window": ("办事群众", "窗口群众"),
    "import": ("群众",),
}
VERB: dict[str, tuple[str, ...]] = {
    "consultation": ("咨询：", "想了解：", "询问："),
    "help": ("求助：", "称，", "反映："),
    "complaint": ("反映：", "投诉：", "称，"),
    "report": ("举报：", "反映：", "称，"),
    "suggestion": ("建议：", "提出建议：", "反映："),
    "praise": ("表扬：", "表示感谢：", "称，"),
}
WANT: dict[str, tuple[str, ...]] = {
    "consultation": ("请给予答复。", "希望告知具体办理流程。", "请回电告知。", "希望尽快回复。", ""),
    "help": ("请求民警帮助。", "希望警方尽快帮忙。", "请派出所协助处理。", "请尽快联系。", ""),
    "complaint": ("希望尽快处理。", "要求相关部门依法处理。", "请相关部门尽快核实处理。", "希望给个说法。", "要求尽快解决。"),
    "report": ("请依法查处。", "希望警方核实后依法处理。", "请相关部门调查处理。", "请尽快处理。"),
    "suggestion": ("望予以考虑。", "建议相关部门研究采纳。", ""),
    "praise": ("特此表扬。", "对民警的辛勤付出表示感谢。", "希望给予表彰。"),
}
# An optional extra sentence for complaints, reports and requests for help.
EXTRA: dict[str, tuple[str, ...]] = {
    "noise": ("此前已反映过多次。", "周边居民意见很大。", "曾拨打过110。", "已录下视频。"),
    "theft": ("现场有监控。", "已保留购买凭证。", "周边住户也有类似遭遇。"),
    "fraud": ("已保存聊天记录和转账凭证。", "家人都很着急。"),
    "traffic": ("已拍照留存。", "此前已反映过多次。", "周边居民意见很大。"),
    "dispute": ("双方争执不下。", "此前已报过警。"),
    "conduct": ("此前已反映过多次。",),
    "other": ("周边群众都知道此事。", "已拍下照片。"),
}
_EXTRA_KINDS = frozenset({"complaint", "report", "help"})

# topic -> kind -> entries, each a body with the titles that fit it ("a|b").
# Slots from the place context: {place} (precise spot, e.g. 甸柳新村5号楼),
# {spot} (estate or road), {road}, {road2}, {district}, {station}; everything
# else from VOCAB. Consultation bodies are the question itself: the opening
# (来电人咨询：) already says it is one.
Entry = tuple[tuple[str, ...], str]


def _e(titles: str, body: str) -> Entry:
    return tuple(titles.split("|")), body


TEMPLATES: dict[str, dict[str, tuple[Entry, ...]]] = {
    "noise": {
        "complaint": (
            _e("{spot}{noise_src}噪音扰民|反映{spot}{noise_src}噪音问题",
               "{place}的{noise_src}{night}噪音很大，{since}一直如此，严重影响周边居民休息。"),
            _e("{spot}{noise_src}影响休息|投诉{noise_src}扰民",
               "{since}，{place}附近{noise_src}{night}吵闹不止，老人孩子无法入睡，多次沟通无果。"),
            _e("{spot}{noise_src}噪音扰民|反映{spot}噪音问题",
               "{place}{noise_src}{night}声音很大，已向物业反映过，没有改善。"),
            _e("{spot}{noise_src}影响学生复习|投诉{noise_src}扰民",
               "家住{place}，{since}附近{noise_src}{night}噪音扰民，家中有备考学生，影响复习。"),
            _e("{road}沿街{noise_src}扰民|反映{road}噪音问题",
               "{road}沿街{noise_src}{night}噪音扰民，{since}越来越严重。"),
        ),
        "report": (
            _e("举报{spot}{noise_src}扰民", "{place}有{noise_src}{night}持续扰民，{since}屡劝不改。"),
            _e("举报{spot}{noise_src}深夜营业", "{place}附近{noise_src}{night}还在营业，噪音很大。"),
            _e("举报{road}{noise_src}噪音", "{road}{night}有{noise_src}扰民，{since}一直没人管。"),
        ),
        "help": (
            _e("{spot}深夜吵闹求助|求助处理{spot}吵闹",
               "{place}楼上{night}一直有剧烈响动和吵闹声，怀疑有人打架，请求民警到场查看。"),
            _e("求助处理{spot}{noise_src}噪音", "{place}{noise_src}{night}吵得无法入睡，上门劝说被对方辱骂。"),
        ),
        "suggestion": (
            _e("建议治理{road}改装车炸街", "建议在{road}沿线加强夜间巡查，治理改装车辆炸街噪音。"),
            _e("建议加强{spot}噪音管理", "{place}附近{noise_src}问题反复出现，建议相关部门建立长效管理机制。"),
        ),
    },
    "theft": {
        "help": (
            _e("{item}被盗求助|{item}丢失疑似被盗", "{ago}将{item}放在{place}，回来后发现不见了，怀疑被盗。"),
            _e("{spot}{item}被盗|{item}被盗求助", "{ago}在{spot}附近{item}被偷，价值约{amount}，已保留购买凭证。"),
            _e("{spot}{item}被盗|{item}被盗求助", "{ago}发现停在{place}楼下的{item}被盗，小区有监控，希望调取查看。"),
            _e("{spot}{item}接连被盗", "{since}{spot}接连发生{item}被盗，本人的{item}{ago}也被偷了。"),
        ),
        "report": (
            _e("举报{spot}有人盗窃{item}", "{ago}在{place}看到有人撬{item}，形迹可疑，已拍下照片。"),
            _e("反映{spot}{item}频繁被盗", "{since}{place}附近多次发生{item}被盗，怀疑是同一伙人所为。"),
            _e("举报{road}回收站收购赃物", "{road}附近一家废品回收站疑似收购被盗的{item}。"),
        ),
        "consultation": (
            _e("咨询{item}被盗案件进展", "{visit_day}报案称{item}被盗，案件目前办理到哪一步了？"),
            _e("咨询被盗报案需补充材料", "本人{item}被盗已在{station}报案，还需要补充哪些材料？"),
        ),
        "complaint": (
            _e("反映{item}被盗案件无进展", "其{item}在{place}被盗，{since}已向{station}报案，至今没有任何进展。"),
        ),
    },
    "fraud": {
        "help": (
            _e("遭遇{fraud_type}诈骗求助|被骗{amount}求助",
               "{ago}通过{app}遭遇{fraud_type}诈骗，被骗{amount}，已保存聊天记录和转账凭证。"),
            _e("疑似遭遇电信诈骗|家人被骗{amount}求助",
               "其{people}{ago}接到自称客服的电话，按对方要求操作后被转走{amount}。"),
            _e("网友诱导{fraud_type}被骗|被骗{amount}求助",
               "{ago}在{app}上认识一名网友，被诱导参与{fraud_type}，先后转账{amount}，现在联系不上对方。"),
        ),
        "report": (
            _e("举报{app}上的{fraud_type}骗局", "{app}上有人以{fraud_type}为名诱骗群众转账，已有多人上当。"),
            _e("举报疑似诈骗窝点", "{place}某出租屋内经常有多人进出，怀疑从事电信网络诈骗。"),
            _e("举报{spot}附近有人骗老人", "{spot}附近有人以低价保健品为诱饵向老年人推销，疑似诈骗。"),
        ),
        "consultation": (
            _e("咨询被骗钱款能否追回", "{ago}遭遇{fraud_type}被骗{amount}，已报案，钱款能否追回？"),
            _e("核实“公安机关”来电真假", "其{people}接到自称公安机关的电话，要求把钱转到“安全账户”，这是真的吗？"),
        ),
    },
    "traffic": {
        "complaint": (
            _e("{spot}附近{traffic_issue}|反映{spot}交通秩序差",
               "{place}附近{traffic_issue}，{since}一直如此，行人通行困难。"),
            _e("{road}与{road2}路口{traffic_issue}", "{road}与{road2}路口{traffic_issue}，存在很大安全隐患。"),
            _e("{spot}一带{traffic_issue}|反映{spot}出行不便", "{spot}一带长期{traffic_issue}，居民出行很不方便。"),
        ),
        "report": (
            _e("举报{road}{traffic_issue}", "{ago}在{road}看到{traffic_issue}，车牌号已拍下。"),
            _e("反映{road}{traffic_issue}无人管", "{road}附近经常{traffic_issue}，无人管理。"),
        ),
        "suggestion": (
            _e("建议{road}与{road2}路口增设信号灯",
               "{road}与{road2}交叉口车流量大，没有信号灯，建议增设信号灯或安排交警疏导。"),
            _e("建议学校周边增派警力", "{spot}附近学校上下学时段拥堵严重，建议增派警力维持秩序。"),
            _e("建议{road}规范限速标志", "{road}限速标志不清晰，建议重新设置并加装测速设备。"),
        ),
        "help": (
            _e("{road}交通事故求助", "{ago}在{road}与{road2}路口发生剐蹭，对方不愿协商，请求交警处理。"),
            _e("交通事故对方驶离求助", "{ago}驾车在{road}被追尾，对方车辆驶离现场。"),
        ),
        "consultation": (
            _e("咨询交通事故快处快赔", "{ago}在{road}发生轻微交通事故，快处快赔怎么办理？"),
            _e("咨询{road}限行规定", "外地车辆在{road}一带的限行时间和范围是什么？"),
        ),
    },
    "household": {
        "consultation": (
            _e("咨询{hh_matter}办理材料|{hh_matter}办理咨询",
               "在{district}办理{hh_matter}需要准备哪些材料，能否网上办理？"),
            _e("咨询{hh_matter}条件|咨询{hh_matter}相关政策", "其{people}户口在外地，{hh_matter}需要什么条件，流程是怎样的？"),
            _e("咨询{station}户籍窗口周末办公", "{station}户籍窗口周末是否办理{hh_matter}业务？"),
            _e("咨询{hh_matter}所需证明", "{visit_day}到{station}办理{hh_matter}，被告知材料不全，还需要哪些证明？"),
        ),
        "help": (
            _e("{hh_matter}办理遇到困难求助", "办理{hh_matter}时因历史原因户籍信息有误，多次往返无法解决，请求帮助。"),
            _e("申请上门办理{hh_matter}", "其{people}年纪大行动不便，想申请上门办理{hh_matter}。"),
        ),
        "complaint": (
            _e("反映{station}窗口排队时间长", "{visit_day}到{station}办理{hh_matter}，排队很久，窗口只开一个。"),
            _e("反映{hh_matter}办理效率低", "办理{hh_matter}已提交材料，{since}至今没有结果。"),
        ),
        "suggestion": (
            _e("建议{hh_matter}实行网上办理", "建议{hh_matter}业务实现全程网办，减少群众跑腿。"),
        ),
        "praise": (
            _e("表扬{station}户籍民警", "{visit_day}到{station}办理{hh_matter}，户籍民警耐心细致，当天就办好了。"),
        ),
    },
    "exit_entry": {
        "consultation": (
            _e("{ee_doc}加急办理咨询|咨询{ee_doc}办理时限", "在济南办理{ee_doc}需要多长时间，能否加急？"),
            _e("咨询{ee_doc}是否需要预约", "其{people}下个月出国探亲，办理{ee_doc}是否需要预约？"),
            _e("咨询{ee_doc}补办", "{ee_doc}丢失了，如何补办？"),
            _e("咨询异地办理{ee_doc}", "户籍在外地，在济南工作，能否在{district}办理{ee_doc}？"),
        ),
        "help": (
            _e("{ee_doc}网上预约求助", "{ago}网上预约办理{ee_doc}，系统一直提示信息有误，无法提交。"),
            _e("申请加急办理{ee_doc}", "因家中急事需出境，{ee_doc}尚未办好，请求加急办理。"),
        ),
        "complaint": (
            _e("反映{ee_doc}办理等待时间长", "{since}提交{ee_doc}申请，至今未收到证件。"),
        ),
        "praise": (
            _e("表扬出入境窗口工作人员", "{visit_day}办理{ee_doc}时，出入境窗口工作人员主动帮忙填写表格，服务热情。"),
        ),
    },
    "vehicle": {
        "consultation": (
            _e("咨询{veh_matter}所需材料|{veh_matter}办理咨询", "{veh_matter}需要带哪些材料，能否在网上办理？"),
            _e("咨询{veh_matter}办理地点", "{veh_matter}在{district}哪个车管服务站可以办理？"),
            _e("咨询驾驶证期满换证体检", "驾驶证即将到期，期满换证是否需要体检？"),
        ),
        "complaint": (
            _e("反映车管业务办理慢", "{visit_day}到车管服务站办理{veh_matter}，排队三个多小时还没办完。"),
            _e("反映{veh_matter}重复提交材料", "办理{veh_matter}时被要求重复提交材料。"),
        ),
        "help": (
            _e("{veh_matter}受阻求助", "办理{veh_matter}时系统显示车辆有未处理违法，但本人从未在该地点行驶。"),
        ),
        "praise": (
            _e("表扬车管窗口工作人员", "{visit_day}办理{veh_matter}，窗口工作人员热情周到，很快就办完了。"),
        ),
    },
    "dispute": {
        "help": (
            _e("{dispute.short}纠纷求助|{spot}{dispute.short}纠纷",
               "{ago}在{place}{dispute.long}发生纠纷，对方情绪激动，请求民警到场调解。"),
            _e("{dispute.short}纠纷调解求助", "{dispute.long}产生矛盾，{since}多次协商未果，希望派出所帮助调解。"),
            _e("{dispute.short}纠纷发生推搡", "{ago}{dispute.long}发生争执并有推搡，担心事态扩大。"),
        ),
        "complaint": (
            _e("反映{dispute.short}纠纷调解不公", "{dispute.long}发生纠纷，{station}调解时偏向对方，本人不认可处理结果。"),
            _e("{dispute.short}纠纷报警后无结果", "{dispute.long}发生纠纷，报警后{since}没有处理结果。"),
        ),
        "consultation": (
            _e("咨询{dispute.short}纠纷处理途径", "{dispute.long}产生纠纷，应该通过什么途径解决？"),
        ),
    },
    "conduct": {
        "complaint": (
            _e("反映{officer}工作态度差", "{visit_day}到{station}办事，{officer}态度生硬，不耐烦。"),
            _e("投诉{station}出警慢", "{ago}在{place}报警后，{wait}才有民警到场。"),
            _e("反映民警执法不规范", "{ago}出警民警处理纠纷时未出示证件，执法过程不规范。"),
            _e("反映{station}电话服务态度差", "{visit_day}打电话到{station}咨询，值班民警说话不耐烦就挂断了。"),
        ),
        "praise": (
            _e("表扬{station}民警|感谢民警帮助找到走失家人",
               "{ago}其{people}在{spot}走失，{station}民警迅速出动，两个小时就找到了人。"),
            _e("感谢{officer}热心帮助", "{ago}在{place}遇到困难，{officer}及时赶到并耐心帮助。"),
            _e("表扬{station}民警雨中执勤", "{ago}{station}民警冒雨在{road}疏导交通，工作认真负责。"),
        ),
        "suggestion": (
            _e("建议{station}增开办事窗口", "建议{station}在中午和周末增开办事窗口，方便上班族办理业务。"),
        ),
        "report": (
            _e("反映{officer}执勤玩手机", "{ago}发现{officer}在{spot}执勤时玩手机，不认真工作。"),
            _e("举报{station}工作人员变相收费", "{station}个别工作人员办事时变相收费。"),
        ),
    },
    "lost_property": {
        "help": (
            _e("{bag}遗失求助|{spot}附近丢失{bag}", "{ago}在{spot}附近不慎丢失{bag}，内有身份证和银行卡，请求帮助查找。"),
            _e("在{ride}上丢失{lost}", "{ago}乘坐{ride}时将{lost}遗落在车上，希望调取监控帮忙找回。"),
            _e("{lost}遗失求助", "{ago}其{people}在{road}附近丢失{lost}，希望帮助查找。"),
        ),
        "consultation": (
            _e("咨询捡到{lost}如何处理", "{ago}在{spot}附近捡到{lost}，应该交到哪个派出所？"),
            _e("咨询遗失物品认领", "丢失的{lost}如果有人交到派出所，怎样查询认领？"),
        ),
        "praise": (
            _e("感谢民警帮助找回{lost}", "{ago}在{ride}上丢失{lost}，{station}民警通过监控很快帮忙找回。"),
        ),
    },
    "other": {
        "help": (
            _e("{spot}有老人疑似走失", "{place}附近有一名老人在路边徘徊，疑似走失，请求民警协助。"),
            _e("家人失联求助", "{ago}其{people}外出后一直联系不上，请求帮助查找。"),
            _e("{spot}流浪人员求助", "{place}附近有流浪人员夜间露宿，天气寒冷，请求救助。"),
        ),
        "report": (
            _e("举报{spot}遛狗不拴绳", "{place}{since}有人遛狗不拴绳，大型犬多次追咬行人。"),
            _e("举报{spot}高空抛物", "{place}{since}多次发生高空抛物，险些砸到行人。"),
            _e("反映{spot}有可疑人员", "{place}{night}有人在楼道内聚集，形迹可疑。"),
        ),
        "suggestion": (
            _e("建议{spot}增设监控", "{place}附近路段较偏僻，照明不足，建议增设治安监控。"),
            _e("建议加强{road}夜间巡逻", "建议在{road}一带加强夜间巡逻，提高群众安全感。"),
        ),
        "consultation": (
            _e("咨询犬只登记办理", "在{district}办理犬只登记需要什么手续？"),
            _e("咨询无犯罪记录证明开具", "因工作需要开具无犯罪记录证明，可否在{station}办理？"),
            _e("咨询{station}办公时间", "{station}的办公时间和联系电话是多少？"),
        ),
        "complaint": (
            _e("反映{spot}私设地锁", "{place}{since}有人私设地锁占用公共车位，多次反映无人处理。"),
        ),
    },
}


class _Slots(dict[str, Any]):
    """Fills a slot from the context, else draws it from VOCAB once per text."""

    def __init__(self, rng: random.Random, context: Mapping[str, str]) -> None:
        super().__init__(context)
        self.rng = rng

    def __missing__(self, key: str) -> Any:
        source: Any = VOCAB[key]
        if callable(source):
            value = source(self.rng)
        else:
            value = self.rng.choice(source)
            if isinstance(value, str) and "{" in value:
                value = value.format_map(self)
        self[key] = value  # the same slot twice in one text says the same thing
        return value


def request_text(
    rng: random.Random, topic: str, kind: str, channel: str, context: Mapping[str, str]
) -> tuple[str, str]:
    """(title, content) for a request; ``context`` holds the place slots."""
    titles, body_template = rng.choice(TEMPLATES[topic][kind])
    slots = _Slots(rng, context)
    body = body_template.format_map(slots)
    title = rng.choice(titles).format_map(slots)
    parts = [rng.choice(WHO.get(channel, WHO["import"])) + rng.choice(VERB[kind]) + body]
    if kind in _EXTRA_KINDS and topic in EXTRA and rng.random() < 0.35:
        parts.append(rng.choice(EXTRA[topic]))
    parts.append(rng.choice(WANT[kind]))
    return title, "".join(parts)


