"""Topic (诉求事项) and kind (诉求类型) from Chinese text, for channels that give none.

Topic: a linear model over character 1- and 2-grams, trained with scikit-learn
(tf-idf and multinomial logistic regression, :func:`feeds.topic_model.train`)
on hand-labelled citizen texts (``tests/fixtures/topics_labelled.tsv``,
``topics_train.tsv``, ``topics_train2.tsv`` and ``topics_train3.tsv``, the last
two mostly requests no police topic fits), each also once more inside work-order wording
(:func:`augment`), plus the old rules' keyword lexicon below as one-word texts;
shipped as ``feeds/topic_model.json`` (the weights, scored in pure Python) and
loaded once. When the model's best topic is not ``other`` and its probability
is below the model's threshold, the answer is ``other``: that goes to the
platform office's queue, a safe failure, while a wrong topic sends the ticket
to a wrong unit. Measured on held-out texts never used to train or tune it
(``topics_heldout.tsv`` … ``topics_heldout4.tsv``);
figures, data and choices in docs/TOPICS.md. Only the first 200 characters of a
text are read (time per text stays bounded).

Kind: rules (the first kind whose words occur wins), see :data:`KIND_WORDS`.

``python -m feeds.topics train`` retrains the model from the fixtures
(scikit-learn needed, ``pip install -e '.[test]'``), ``evaluate`` measures it
(and the old keyword rules, for comparison), ``cv`` cross-validates on the
training texts (how the settings and the threshold were chosen; ``--features``
compares jieba words and the rules as features), ``bench`` times it, ``scan
FILE.csv`` counts the topics it gives a CSV of texts (e.g. a set of
non-police messages, to measure false positives); ``bench/topics_simulator.py``
scores the simulated feed's texts.

Changing a labelled text, the lexicon or the work-order wording means
retraining: a test checks that the shipped model is what the repo's fixtures
and code train.
"""
from __future__ import annotations

import argparse
import csv
import itertools
import random
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from feeds import topic_model
from feeds.topic_model import Model, Params

# The keyword lexicon: topic -> ((keyword, weight), ...). Once the whole rules
# table (the weights were its scores); now each keyword is also a one-word
# training text for the model, and :func:`rules_guess` keeps the old rules
# for comparison. Order of topics breaks the rules' ties.
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

# The rules' patterns where a keyword alone misleads: about the police themselves,
# or a document lost (→ the office that reissues it, not lost property). Used by
# :func:`rules_guess` only.
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
TOPICS: tuple[str, ...] = (*TOPIC_ORDER, "other")

HERE = Path(__file__).resolve().parent
MODEL_PATH = HERE / "topic_model.json"
FIXTURES = HERE.parent / "tests" / "fixtures"
LABELLED = FIXTURES / "topics_labelled.tsv"
TRAINING: tuple[Path, ...] = (LABELLED, FIXTURES / "topics_train.tsv", FIXTURES / "topics_train2.tsv",
                              FIXTURES / "topics_train3.tsv")
HELD_OUT: tuple[Path, ...] = (FIXTURES / "topics_heldout.tsv", FIXTURES / "topics_heldout2.tsv",
                              FIXTURES / "topics_heldout3.tsv", FIXTURES / "topics_heldout4.tsv")
PARAMS = Params()


# --------------------------------------------------------------- the model
@cache
def model() -> Model:
    """The shipped model (``feeds/topic_model.json``), loaded on first use."""
    return topic_model.load(MODEL_PATH)


def topic_of(text: str) -> str:
    """The topic of ``text``; ``other`` when the model is not confident enough."""
    return model().predict(text or "")


# Kind (诉求类型) words, checked in this order; the first kind with a hit wins.
KIND_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("report", ("举报", "检举", "揭发")),
    ("praise", ("表扬", "锦旗", "感谢信", "点赞", "致谢")),
    ("complaint", ("投诉", "不满", "态度", "不作为", "推诿", "扰民", "刁难")),
    ("suggestion", ("建议", "希望能", "意见", "提议")),
    ("help", ("求助", "帮忙", "帮帮", "救命", "报警", "被盗", "被骗", "丢失", "丢了", "纠纷")),
    ("consultation", ("咨询", "请问", "如何办理", "怎么办理", "需要什么材料", "多久", "能否", "可以吗", "怎么")),
)
_KIND_RES = tuple((kind, re.compile("|".join(map(re.escape, words)))) for kind, words in KIND_WORDS)


def kind_of(text: str, default: str = "help") -> str:
    text = text or ""
    for kind, pattern in _KIND_RES:
        if pattern.search(text):
            return kind
    return default


def classify(text: str, default_kind: str = "help") -> tuple[str, str]:
    """``(topic, kind)`` of ``text`` in one call: ``(topic_of(text), kind_of(text, default_kind))``."""
    text = text or ""
    return model().predict(text), kind_of(text, default_kind)


# --------------------------------------------------------------- the old rules (for comparison)
@dataclass(frozen=True)
class Guess:
    topic: str
    score: float
    matched: tuple[str, ...]


def rules_guess(text: str) -> Guess:
    """The keyword rules' topic of ``text`` (``other`` when no rule matches): the
    classifier before the model, kept to compare with (``evaluate`` prints both)."""
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


def rules_topic(text: str) -> str:
    return rules_guess(text).topic


# --------------------------------------------------------------- features cross-validation compares
@cache
def _jieba() -> Any:
    import jieba  # only to compare with (cv --features): the shipped model reads character n-grams

    jieba.setLogLevel(60)
    return jieba


def words(text: str) -> set[str]:
    """jieba's words of ``text`` (within the runs :func:`topic_model.normalise` makes), as ``w:word``."""
    cut = _jieba().lcut
    return {"w:" + w for run in topic_model.normalise(text) if run for w in cut(run)}


def rule_hits(text: str) -> set[str]:
    """``r:topic`` for every topic a keyword or pattern of the old rules finds in ``text``."""
    return {"r:" + topic for topic in TOPIC_ORDER
            if any(w in text for w, _ in KEYWORDS[topic]) or any(p.search(text) for p, _ in _COMPILED.get(topic, ()))}


FEATURES: dict[str, Callable[[str], Iterable[str]]] = {
    "chars": topic_model.grams,  # the shipped model's
    "words": words,
    "chars+words": lambda text: topic_model.grams(text) | words(text),
    "chars+rules": lambda text: topic_model.grams(text) | rule_hits(text),
}


# --------------------------------------------------------------- training and measuring
def read_labelled(path: Path = LABELLED) -> list[tuple[str, str]]:
    """(topic, text) pairs: one per line, ``topic<TAB>text``; ``#`` starts a comment."""
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        topic, _, text = line.partition("\t")
        topic, text = topic.strip(), text.strip()
        if topic not in TOPICS or not text:
            raise ValueError(f"{path.name}:{n}: expected 'topic<TAB>text' with a known topic, got {line!r}")
        rows.append((topic, text))
    return rows


def read_all(paths: Iterable[Path]) -> list[tuple[str, str]]:
    return [row for p in paths for row in read_labelled(p)]


def lexicon() -> list[tuple[str, str]]:
    """(topic, keyword) pairs: the keyword lexicon as one-word training texts."""
    return [(topic, word) for topic in TOPIC_ORDER for word, _ in KEYWORDS[topic]]


# Work-order wording that says nothing about the topic: who calls, where, and
# what they want done. Each training text is also trained on once more inside
# a random opening, place and closing from these lists, whatever its topic, so
# the model learns that "市民来电反映", a road's name or "希望相关部门尽快处理"
# are no sign of any topic. (Hand-written texts put such words unevenly: the
# 'other' ones, about other departments, had more of them, and the model took
# the boilerplate of a real order for a sign of 'other'.)
OPENINGS = (
    "", "", "市民来电反映：", "来电人称：", "市民反映：", "网民留言：", "群众来电：", "诉求人反映，", "来电人反映，",
    "市民通过热线反映：", "留言人称：", "有群众反映：", "尊敬的领导：您好！", "您好，", "市民张女士来电：",
    "来电人李先生称，", "市民王先生反映：", "来信人反映：", "网友在平台留言：", "群众来访称：",
)
PLACES = (
    "", "", "", "其居住在{road}{estate}，", "在{road}附近，", "{road}与{road2}交叉口附近，", "{district}{road}一带，",
    "家住{estate}{n}号楼，", "{district}{estate}，", "在{district}{road}，",
)
CLOSINGS = (
    "", "", "希望相关部门尽快处理。", "请有关部门核实处理。", "要求依法处理。", "希望尽快解决。", "请尽快回复。",
    "存在安全隐患，希望尽快处理。", "望予以重视。", "请相关单位协调解决。", "此事已反映多次，至今未解决。",
    "希望给予答复。", "谢谢！", "特此反映。", "请尽快联系来电人。", "希望有关部门管一管。", "居民意见很大。",
    "请给予帮助。", "盼复。", "希望能尽快给个说法。",
)
_ROADS = ("人民路", "解放路", "建设路", "和平路", "中山路", "文化路", "胜利街", "新华街", "东风路", "青年路", "幸福路",
          "长江路", "黄河路", "朝阳街", "光明路", "工业南路", "北环路", "滨河大道", "府前街", "民生路")
_ESTATES = ("阳光小区", "幸福家园", "锦绣花园", "金色家园", "翠湖苑", "东方名城", "丽景花园", "和谐小区", "御景湾",
            "康居新村", "绿城小区", "世纪花园", "南苑小区", "华府")
_DISTRICTS = ("城东区", "城西区", "高新区", "开发区", "新城区", "老城区", "东区", "县城")


def augmentation_fingerprint() -> str:
    """sha256 of the wording lists :func:`augment` draws from (a change means retraining)."""
    lists = (OPENINGS, PLACES, CLOSINGS, _ROADS, _ESTATES, _DISTRICTS)
    return topic_model.fingerprint(("", "|".join(words)) for words in lists)


def augment(rows: Sequence[tuple[str, str]], seed: int = 7) -> list[tuple[str, str]]:
    """Each row once more, wrapped in a random opening, place and closing (deterministic)."""
    rng = random.Random(seed)
    out = []
    for topic, text in rows:
        roads = rng.sample(_ROADS, 2)
        place = rng.choice(PLACES).format(road=roads[0], road2=roads[1], estate=rng.choice(_ESTATES),
                                          district=rng.choice(_DISTRICTS), n=rng.randint(1, 30))
        out.append((topic, rng.choice(OPENINGS) + place + text + rng.choice(CLOSINGS)))
    return out


def _fit(rows: Sequence[tuple[str, str]], params: Params, meta: dict | None = None,
         features: str = "chars", fitted: tuple[Any, Any] | None = None) -> Model:
    return topic_model.train(rows, TOPICS, lexicon=lexicon(), extra=augment(rows), params=params, meta=meta,
                             analyzer=FEATURES[features], fitted=fitted)


def train(paths: Sequence[Path] = TRAINING, params: Params = PARAMS,
          fitted: tuple[Any, Any] | None = None) -> Model:
    """The model the training files make (``fitted``: scikit-learn's fit of them, if already at hand)."""
    rows = read_all(paths)
    meta = {"trained_on": [p.name for p in paths],
            "lexicon_fingerprint": topic_model.fingerprint(lexicon()),
            "augmentation_fingerprint": augmentation_fingerprint()}
    return _fit(rows, params, meta, fitted=fitted)


@dataclass(frozen=True)
class Evaluation:
    total: int
    correct: int
    per_topic: dict[str, tuple[int, int]]  # topic -> (correct, total)
    confusions: Counter[tuple[str, str]]  # (expected, got) -> count
    predicted: Counter[str] = field(default_factory=Counter)  # topic given -> count

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0

    def recall(self, topic: str) -> float:
        """Of the texts labelled ``topic``, the share given ``topic``."""
        ok, n = self.per_topic.get(topic, (0, 0))
        return ok / n if n else 0.0

    def precision(self, topic: str) -> float:
        """Of the texts given ``topic``, the share labelled ``topic`` (1.0 when none was given it)."""
        given = self.predicted[topic]
        return self.per_topic.get(topic, (0, 0))[0] / given if given else 1.0

    @property
    def misroutes(self) -> int:
        """Texts given a wrong topic other than ``other`` (they would go to a wrong unit)."""
        return sum(n for (_, got), n in self.confusions.items() if got != "other")

    @property
    def misroute_rate(self) -> float:
        return self.misroutes / self.total if self.total else 0.0

    @property
    def to_other(self) -> int:
        """Texts wrongly given ``other`` (they go to the platform office, which routes them)."""
        return sum(n for (_, got), n in self.confusions.items() if got == "other")


def evaluate(rows: Iterable[tuple[str, str]] | None = None,
             predict: Callable[[str], str] = topic_of) -> Evaluation:
    rows = list(read_labelled() if rows is None else rows)
    per: dict[str, list[int]] = {}
    confusions: Counter[tuple[str, str]] = Counter()
    predicted: Counter[str] = Counter()
    correct = 0
    for expected, text in rows:
        got = predict(text)
        predicted[got] += 1
        slot = per.setdefault(expected, [0, 0])
        slot[1] += 1
        if got == expected:
            correct += 1
            slot[0] += 1
        else:
            confusions[(expected, got)] += 1
    return Evaluation(len(rows), correct, {k: (v[0], v[1]) for k, v in sorted(per.items())}, confusions, predicted)


def stratified_folds(rows: Sequence[tuple[str, str]], k: int = 5, seed: int = 1) -> list[list[int]]:
    by: dict[str, list[int]] = {}
    for i, (topic, _) in enumerate(rows):
        by.setdefault(topic, []).append(i)
    rng = random.Random(seed)
    folds: list[list[int]] = [[] for _ in range(k)]
    for topic in sorted(by):
        idx = by[topic][:]
        rng.shuffle(idx)
        for j, i in enumerate(idx):
            folds[j % k].append(i)
    return folds


def cross_validate(rows: Sequence[tuple[str, str]], params: Params = PARAMS, k: int = 5,
                   seed: int = 1, features: str = "chars") -> list[tuple[str, float]]:
    """Out-of-fold (best topic, probability) for every row, before the threshold."""
    out: list[tuple[str, float]] = [("other", 0.0)] * len(rows)
    for fold in stratified_folds(rows, k, seed):
        held = set(fold)
        m = _fit([r for i, r in enumerate(rows) if i not in held], params, features=features)
        for i in fold:
            out[i] = m.best(rows[i][1])
    return out


# --------------------------------------------------------------- command line
def _print_evaluation(name: str, result: Evaluation, per_topic: bool = True) -> None:
    print(f"{name}: {result.correct}/{result.total} correct, accuracy {result.accuracy:.1%}, "
          f"misroutes {result.misroutes} ({result.misroute_rate:.1%}), wrongly 'other' {result.to_other}")
    if per_topic:
        print(f"  {'topic':<14} {'texts':>5} {'recall':>13} {'precision':>13}")
        for topic, (ok, n) in result.per_topic.items():
            given = result.predicted[topic]
            print(f"  {topic:<14} {n:>5} {ok:>4}/{n:<3} {result.recall(topic):>4.0%} "
                  f"{ok:>4}/{given:<3} {result.precision(topic):>4.0%}")
        for (expected, got), n in result.confusions.most_common():
            print(f"  confused {expected} → {got}: {n}")


def _predictor(args: argparse.Namespace) -> Callable[[str], str]:
    """topic_of, or another model file's predict (``--model``), or the old rules (``--rules``)."""
    if getattr(args, "rules", False):
        return rules_topic
    if getattr(args, "model", None):
        return topic_model.load(Path(args.model)).predict
    return topic_of


def _cmd_train(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    m = train()
    m.dump(MODEL_PATH)
    print(f"trained on {m.meta['texts']} texts (+ as many with work-order wording around them) + "
          f"{m.meta['lexicon']} lexicon words in {time.perf_counter() - t0:.1f} s "
          f"({m.meta['trainer']}, {m.meta['iterations']} iterations): {m.meta['features']} n-grams → {MODEL_PATH}")
    model.cache_clear()
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    predict = _predictor(args)
    paths = [Path(p) for p in args.files] if args.files else [*TRAINING, *HELD_OUT]
    groups = [(p.name, read_labelled(p)) for p in paths]
    if not args.files:  # the two sets that matter, each as a whole
        groups += [("training set (" + " + ".join(p.name for p in TRAINING) + ")", read_all(TRAINING)),
                   ("held-out set (" + " + ".join(p.name for p in HELD_OUT) + ")", read_all(HELD_OUT))]
    for name, rows in groups:
        _print_evaluation(f"model {name}", evaluate(rows, predict), per_topic=args.verbose or len(groups) == 1
                          or name.startswith("held-out"))
        _print_evaluation(f"rules {name}", evaluate(rows, rules_topic), per_topic=args.verbose)
    if args.errors:
        for _, rows in groups[-1:] if not args.files else groups:
            for expected, text in rows:
                got = predict(text)
                if got != expected:
                    print(f"  {expected} → {got}: {text}")
    return 0


def _cmd_cv(args: argparse.Namespace) -> int:
    rows = read_all(TRAINING)
    thresholds = (0.0, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5)
    print(f"{len(rows)} training texts, 5-fold cross-validation × {args.seeds} seeds; in the shipped model: "
          f"features chars, C {PARAMS.C}, threshold {PARAMS.threshold}. cost = wrongly 'other' + 2 × misroutes")
    grid = itertools.product(args.features, args.C or [PARAMS.C], args.min_df or [PARAMS.min_df])
    for features, C, min_df in grid:
        params = Params(**{**PARAMS.__dict__, "C": C, "min_df": min_df})
        t0 = time.perf_counter()
        runs = [cross_validate(rows, params, seed=s, features=features) for s in range(1, args.seeds + 1)]
        print(f"features {features}, C {C}, min_df {min_df} ({time.perf_counter() - t0:.0f} s):")
        for thr in thresholds:
            acc = mis = oth = 0.0
            for run in runs:
                got = [t if (t == "other" or p >= thr) else "other" for t, p in run]
                acc += sum(g == e for g, (e, _) in zip(got, rows)) / len(rows)
                mis += sum(g not in (e, "other") for g, (e, _) in zip(got, rows)) / len(rows)
                oth += sum(g == "other" != e for g, (e, _) in zip(got, rows)) / len(rows)
            acc, mis, oth = acc / len(runs), mis / len(runs), oth / len(runs)
            print(f"  threshold {thr:.2f}: accuracy {acc:.1%}, misroutes {mis:.1%}, wrongly 'other' {oth:.1%}, "
                  f"cost {oth + 2 * mis:.3f}")
    return 0


def _bench_texts() -> dict[int, list[str]]:
    texts = [t for _, t in read_all(HELD_OUT)]
    joined = "".join(texts)
    out = {}
    for n in (50, 500):
        out[n] = [(joined[i:] + joined)[:n] for i in range(0, len(joined), max(1, len(joined) // 200))][:200]
    return out


def _cmd_bench(args: argparse.Namespace) -> int:
    # A fresh interpreter: importing this module, then the first topic_of() (which loads the model).
    probe = ("import time; t0 = time.perf_counter(); import feeds.topics as t; t1 = time.perf_counter(); "
             "t.topic_of('x'); t2 = time.perf_counter(); import sys; "
             "print((t1 - t0) * 1e3, (t2 - t1) * 1e3, 'sklearn' in sys.modules, 'numpy' in sys.modules)")
    runs = []
    for _ in range(5):
        out = subprocess.run([sys.executable, "-c", probe], cwd=HERE.parent, capture_output=True, text=True,
                             check=True).stdout.split()
        runs.append((float(out[0]), float(out[1]), out[2], out[3]))
    imp, load = sorted(r[0] for r in runs)[2], sorted(r[1] for r in runs)[2]
    print(f"a fresh process (median of 5): import feeds.topics {imp:.0f} ms, first topic_of (loads the model) "
          f"{load:.0f} ms; scikit-learn imported: {runs[0][2]}, numpy imported: {runs[0][3]}")
    print(f"model file {MODEL_PATH.stat().st_size / 1024:.0f} KB, {len(model().features)} n-grams")

    def before(text: str) -> tuple[str, str]:  # what a caller ran before the model: rules for topic, then kind
        return rules_topic(text), kind_of(text)

    for n, texts in _bench_texts().items():
        for name, fn in (("topic_of", topic_of), ("classify", classify), ("rules+kind (before)", before)):
            best = float("inf")
            for _ in range(5):
                t0 = time.perf_counter()
                for _ in range(args.repeat):
                    for t in texts:
                        fn(t)
                best = min(best, (time.perf_counter() - t0) / (args.repeat * len(texts)))
            print(f"{name:<19} {n:>3}-character texts: {best * 1e6:.1f} µs/text")
    return 0


def _cmd_scan(args: argparse.Namespace) -> int:
    predict = _predictor(args)
    with open(args.file, encoding=args.encoding, newline="") as f:
        records = list(csv.DictReader(f))
    cols = args.text or [c for c in records[0] if c]
    per: dict[str, Counter[str]] = {}
    flagged = []
    for n, r in enumerate(records):
        if args.half and n % 2 != (args.half == "odd"):
            continue
        text = " ".join(r.get(c) or "" for c in cols)
        group = r.get(args.group, "") if args.group else ""
        topic = predict(text)
        per.setdefault(group, Counter())[topic] += 1
        if topic != "other":
            flagged.append((n, group, topic, text))
    total = Counter[str]()
    for group, c in sorted(per.items()):
        total.update(c)
        print(f"{group or 'all'}: {sum(c.values())} texts, {sum(c.values()) - c['other']} given a police topic "
              f"{dict(c.most_common())}")
    n = sum(total.values())
    print(f"total: {n} texts, {n - total['other']} ({(n - total['other']) / n:.1%}) given a police topic "
          f"{dict((t, k) for t, k in total.most_common() if t != 'other')}")
    if args.list:
        for row, group, topic, text in flagged:
            print(f"  #{row} [{group}] → {topic}: {text[:args.width]}")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = {"train", "evaluate", "cv", "bench", "scan"}
    if not argv or argv[0] not in commands | {"-h", "--help"}:
        argv = ["evaluate", *argv]  # `python -m feeds.topics [FILE]`, as before
    parser = argparse.ArgumentParser(prog="python -m feeds.topics", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("train", help=f"retrain from {', '.join(p.name for p in TRAINING)} → {MODEL_PATH.name}")
    p = sub.add_parser("evaluate", help="accuracy, misroutes, per-topic recall and precision on labelled files "
                                        "(default: training and held-out)")
    p.add_argument("files", nargs="*")
    p.add_argument("-v", "--verbose", action="store_true", help="per-topic figures for every file")
    p.add_argument("--errors", action="store_true", help="list the texts the model gets wrong")
    p.add_argument("--model", help="another model file (e.g. an older one: git show REV:feeds/topic_model.json)")
    p = sub.add_parser("cv", help="cross-validation on the training texts, per threshold")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--features", nargs="+", choices=sorted(FEATURES), default=["chars"],
                   help="features to compare (words: jieba's, needs jieba; rules: the old rules' hits)")
    p.add_argument("--C", nargs="+", type=float, help=f"penalties to compare (default {PARAMS.C})")
    p.add_argument("--min-df", nargs="+", type=int, help=f"n-grams in fewer training texts are dropped "
                                                          f"(default {PARAMS.min_df})")
    p = sub.add_parser("bench", help="load time, µs per text for 50- and 500-character texts")
    p.add_argument("--repeat", type=int, default=20)
    p = sub.add_parser("scan", help="topics given to the texts of a CSV file (e.g. non-police messages)")
    p.add_argument("file")
    p.add_argument("--text", action="append", help="column(s) holding the text (default: all)")
    p.add_argument("--group", help="column to count by")
    p.add_argument("--encoding", default="utf-8-sig")
    p.add_argument("--half", choices=("even", "odd"), help="only the even- or odd-numbered rows (0-based)")
    p.add_argument("--list", action="store_true", help="list the texts given a police topic")
    p.add_argument("--width", type=int, default=120)
    p.add_argument("--model", help="another model file")
    p.add_argument("--rules", action="store_true", help="the old keyword rules instead of the model")
    args = parser.parse_args(argv)
    return {"train": _cmd_train, "evaluate": _cmd_evaluate, "cv": _cmd_cv, "bench": _cmd_bench,
            "scan": _cmd_scan}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
