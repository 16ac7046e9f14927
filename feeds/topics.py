"""Topic (诉求事项) and kind (诉求类型) from Chinese text, for channels that give none.

A rules table, not a model: each topic has weighted keywords (plain
substrings) and a few patterns (regular expressions); the topic whose matches
weigh most wins, ties going to the topic listed first; nothing matched is
``other``. Its accuracy on a hand-labelled set
(``tests/fixtures/topics_labelled.tsv``) is measured by :func:`evaluate` and
reported in docs/INTAKE.md; ``python -m feeds.topics`` prints it.

Rules are data: review them with the platform office, and add a labelled
example for every rule you add, so the accuracy figure stays honest.
"""
from __future__ import annotations

import re
import sys
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

# topic -> ((keyword, weight), ...). Order of topics breaks ties: the more
# specific services (证件) before the generic problems.
KEYWORDS: dict[str, tuple[tuple[str, float], ...]] = {
    "exit_entry": (
        ("护照", 3), ("港澳通行证", 3), ("台湾通行证", 3), ("往来港澳", 3), ("签注", 3), ("出入境", 3),
        ("签证", 2), ("出国", 2), ("出境", 2), ("入境", 2), ("外国人", 2), ("回乡证", 3), ("边检", 2),
    ),
    "vehicle": (
        ("驾驶证", 3), ("驾照", 3), ("车管所", 3), ("行驶证", 3), ("年检", 3), ("年审", 3), ("上牌", 3),
        ("号牌", 2), ("车牌", 2), ("过户", 2), ("科目一", 3), ("科目二", 3), ("科目三", 3), ("科目四", 3),
        ("驾考", 3), ("考驾照", 3), ("机动车登记", 3), ("审验", 2), ("换证", 1), ("检验合格标志", 3),
        ("临牌", 3), ("临时号牌", 3),
    ),
    "household": (
        ("户口", 3), ("户籍", 3), ("落户", 3), ("迁户", 3), ("身份证", 3), ("居住证", 3), ("户政", 3),
        ("出生登记", 3), ("集体户", 3), ("户口本", 3), ("改名", 2), ("更名", 2), ("无犯罪记录", 3),
        ("迁入", 2), ("迁出", 2), ("分户", 3), ("暂住", 2), ("亲属关系证明", 3),
    ),
    "fraud": (
        ("诈骗", 4), ("骗子", 3), ("被骗", 4), ("骗了", 3), ("骗走", 3), ("刷单", 3), ("冒充", 2),
        ("杀猪盘", 4), ("网贷", 2), ("转账", 1), ("汇款", 1), ("中奖", 2), ("假客服", 3), ("冒充客服", 3),
        ("传销", 3), ("非法集资", 4), ("集资", 2), ("返利", 2), ("投资平台", 2), ("理财平台", 2),
        ("验证码", 1), ("退款", 1), ("兼职", 1), ("套路贷", 4), ("骗钱", 4), ("骗取", 3), ("骗", 2),
        ("拉黑", 1), ("安全账户", 4), ("保证金", 2), ("手续费", 1), ("定金", 1), ("充值", 1),
    ),
    "theft": (
        ("被盗", 4), ("盗窃", 4), ("失窃", 4), ("偷走", 4), ("被偷", 4), ("偷了", 3), ("小偷", 3),
        ("扒手", 3), ("扒窃", 4), ("入室", 3), ("撬开", 3), ("被撬", 3), ("撬锁", 3), ("顺走", 3),
        ("盗走", 4), ("偷盗", 4), ("偷窃", 4), ("偷车", 4), ("偷电动车", 4), ("拎包", 2), ("偷拿", 3),
        ("拿走", 2), ("卸走", 3), ("拉走", 2), ("偷", 2), ("砸", 1),
    ),
    "traffic": (
        ("交通", 2), ("违停", 3), ("违章停车", 3), ("乱停", 3), ("乱停车", 3), ("占道", 2), ("堵车", 3), ("拥堵", 3),
        ("红绿灯", 3), ("信号灯", 3), ("闯红灯", 3), ("交通事故", 4), ("追尾", 3), ("剐蹭", 3),
        ("超速", 3), ("酒驾", 3), ("醉驾", 3), ("逆行", 3), ("斑马线", 2), ("渣土车", 3), ("大货车", 2),
        ("电子眼", 3), ("罚单", 2), ("违章", 2), ("交警", 2), ("堵路", 2), ("停车位", 1), ("肇事", 3),
        ("逃逸", 2), ("车祸", 4), ("挡住", 1), ("堵门", 1), ("通行", 1), ("限行", 2), ("路口", 1),
        ("人行横道", 2), ("消防通道", 2), ("车主", 1), ("车辆", 1), ("行驶", 1), ("撞", 1), ("高架", 1),
    ),
    "noise": (
        ("噪音", 4), ("噪声", 4), ("扰民", 3), ("吵闹", 3), ("太吵", 3), ("吵得", 3), ("很吵", 3),
        ("广场舞", 3), ("夜间施工", 4), ("施工声", 3), ("音响", 2), ("喇叭", 2), ("装修声", 3),
        ("喧哗", 3), ("唱歌", 2), ("KTV", 2), ("酒吧", 1), ("轰鸣", 2), ("炸街", 3), ("睡不着", 2),
        ("放鞭炮", 2), ("吆喝", 2), ("叫卖", 2), ("吵", 1), ("噪", 2), ("声音", 2), ("刺耳", 2),
    ),
    "dispute": (
        ("纠纷", 4), ("吵架", 3), ("打架", 3), ("争执", 3), ("矛盾", 2), ("欠钱", 3), ("欠款", 3),
        ("欠薪", 4), ("拖欠工资", 4), ("讨薪", 4), ("工钱", 2), ("斗殴", 3), ("殴打", 2), ("打人", 2),
        ("口角", 3), ("家暴", 3), ("押金", 2), ("不退", 1), ("房东", 1), ("租户", 1), ("邻里", 2),
        ("争吵", 3), ("推搡", 3), ("调解", 3), ("赔偿", 1), ("物业", 1), ("借钱不还", 4),
        ("冲突", 3), ("动手", 2), ("协商", 2), ("不还", 2), ("闹", 1),
    ),
    "conduct": (
        ("态度恶劣", 4), ("态度差", 4), ("态度很差", 4), ("不作为", 4), ("推诿", 4), ("乱罚款", 4),
        ("吃拿卡要", 4), ("刁难", 3), ("执法不公", 4), ("作风", 3), ("表扬", 3), ("锦旗", 4),
        ("感谢", 2), ("办事效率", 2), ("出警慢", 4), ("出警太慢", 4), ("不出警", 4), ("辅警", 1),
        ("执法", 1), ("打官腔", 4), ("索要", 2), ("辱骂群众", 4), ("点赞", 3), ("为民", 1),
    ),
    "lost_property": (
        ("丢失", 3), ("遗失", 3), ("丢了", 3), ("落在", 2), ("捡到", 3), ("拾到", 3), ("失物", 4),
        ("找回", 2), ("弄丢", 3), ("落下", 2), ("遗落", 3), ("掉了", 2), ("忘在", 3), ("不见了", 2),
        ("丢在", 3),
    ),
}

# Patterns where a keyword alone misleads: about the police themselves, or
# a document lost (→ the office that reissues it, not lost property).
PATTERNS: dict[str, tuple[tuple[str, float], ...]] = {
    "conduct": (
        (r"(民警|警察|辅警|交警|派出所|窗口|工作人员).{0,10}(态度|不理|不管|推脱|刁难|骂|冷漠|不耐烦|收钱|拖延|敷衍)", 4),
        (r"(感谢|表扬|称赞|赞扬).{0,12}(民警|警察|辅警|派出所|警官)", 3),
        (r"(民警|警察|警官).{0,12}(辛苦|负责|热心|耐心|帮我|帮助)", 2),
    ),
    "household": ((r"身份证.{0,6}(丢|遗失|补办|过期|到期|办理|换)", 3),),
    "vehicle": ((r"(驾驶证|驾照|行驶证|车牌|号牌).{0,6}(丢|遗失|补|过期|到期|换)", 3),),
    "exit_entry": ((r"(护照|通行证).{0,6}(丢|遗失|补|过期|到期|办)", 3),),
    "theft": ((r"(电动车|自行车|摩托车|电瓶|手机|钱包).{0,6}(被偷|被盗|让人偷|被人偷|偷)", 3),),
    "fraud": ((r"(转|打|汇)了?.{0,8}(元|万|块).{0,16}(联系不上|拉黑|不退|骗)", 4),),
    "noise": ((r"(半夜|凌晨|深夜|晚上|夜里).{0,12}(施工|装修|唱|音乐|鸣笛|吵|响)", 3),),
}
_COMPILED = {topic: tuple((re.compile(p), w) for p, w in pats) for topic, pats in PATTERNS.items()}
TOPIC_ORDER: tuple[str, ...] = tuple(KEYWORDS)


@dataclass(frozen=True)
class Guess:
    topic: str
    score: float
    matched: tuple[str, ...]


def classify(text: str) -> Guess:
    """The most likely topic of ``text`` (``other`` when no rule matches)."""
    text = text or ""
    best = Guess("other", 0.0, ())
    for topic in TOPIC_ORDER:
        score = 0.0
        matched: list[str] = []
        for word, weight in KEYWORDS[topic]:
            if word in text:
                score += weight
                matched.append(word)
        for pattern, weight in _COMPILED.get(topic, ()):
            m = pattern.search(text)
            if m:
                score += weight
                matched.append(m.group(0))
        if score > best.score:
            best = Guess(topic, score, tuple(matched))
    return best


def topic_of(text: str) -> str:
    return classify(text).topic


# Kind (诉求类型) words, checked in this order; the first kind with a hit wins.
KIND_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("report", ("举报", "检举", "揭发")),
    ("praise", ("表扬", "锦旗", "感谢信", "点赞", "致谢")),
    ("complaint", ("投诉", "不满", "态度", "不作为", "推诿", "扰民", "刁难")),
    ("suggestion", ("建议", "希望能", "意见", "提议")),
    ("help", ("求助", "帮忙", "帮帮", "救命", "报警", "被盗", "被骗", "丢失", "丢了", "纠纷")),
    ("consultation", ("咨询", "请问", "如何办理", "怎么办理", "需要什么材料", "多久", "能否", "可以吗", "怎么")),
)


def kind_of(text: str, default: str = "help") -> str:
    text = text or ""
    for kind, words in KIND_WORDS:
        if any(w in text for w in words):
            return kind
    return default


# --------------------------------------------------------------- measuring
LABELLED = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "topics_labelled.tsv"


def read_labelled(path: Path = LABELLED) -> list[tuple[str, str]]:
    """(topic, text) pairs: one per line, ``topic<TAB>text``; ``#`` starts a comment."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        topic, _, text = line.partition("\t")
        rows.append((topic.strip(), text.strip()))
    return rows


@dataclass(frozen=True)
class Evaluation:
    total: int
    correct: int
    per_topic: dict[str, tuple[int, int]]  # topic -> (correct, total)
    confusions: Counter[tuple[str, str]]  # (expected, got) -> count

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0


def evaluate(rows: Iterable[tuple[str, str]] | None = None) -> Evaluation:
    rows = list(read_labelled() if rows is None else rows)
    per: dict[str, list[int]] = {}
    confusions: Counter[tuple[str, str]] = Counter()
    correct = 0
    for expected, text in rows:
        got = topic_of(text)
        slot = per.setdefault(expected, [0, 0])
        slot[1] += 1
        if got == expected:
            correct += 1
            slot[0] += 1
        else:
            confusions[(expected, got)] += 1
    return Evaluation(len(rows), correct, {k: (v[0], v[1]) for k, v in sorted(per.items())}, confusions)


def main(argv: list[str] | None = None) -> int:
    path = Path(argv[0]) if argv else LABELLED
    result = evaluate(read_labelled(path))
    print(f"{path.name}: {result.correct}/{result.total} correct, accuracy {result.accuracy:.1%}")
    for topic, (ok, n) in result.per_topic.items():
        print(f"  {topic:<14} {ok:>3}/{n:<3} {ok / n:.0%}")
    for (expected, got), n in result.confusions.most_common():
        print(f"  confused {expected} → {got}: {n}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
