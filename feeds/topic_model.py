"""A character n-gram topic model for Chinese citizen text, in pure Python.

Multinomial logistic regression (softmax) over the presence of character
1- and 2-grams, tf-idf weighted and L2-normalised, trained by stochastic
gradient descent with a fixed seed. No third-party library, at run time or at
training time.

:func:`train` builds a :class:`Model` from labelled texts (``(topic, text)``
pairs); :meth:`Model.dump` writes it as JSON and :func:`load` reads it back.
``feeds/topics.py`` loads the shipped model (``feeds/topic_model.json``) once,
and says how it is trained and measured.

Weights are stored as integers (× :data:`SCALE`), so scoring is exact integer
arithmetic: the same text gets the same scores in every process, whatever
order a set of n-grams is visited in. For speed, each n-gram's weights (and
its idf²) are packed into one Python integer, a fixed-width field per topic,
so a text's scores are one ``sum()`` of a few dozen integers in C rather
than a Python loop over n-grams × topics.
"""
from __future__ import annotations

import hashlib
import json
import math
import operator
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

FORMAT = 2
SCALE = 1000  # stored weight = round(weight × SCALE)

# --------------------------------------------------------------- features
# Full-width ASCII → half-width, A–Z → a–z; digits, punctuation and
# whitespace → a space, which splits the text into runs; n-grams never cross
# a run boundary. Digits go: phone numbers, dates, amounts and house numbers
# say nothing about the topic, and the few training texts with digits would
# otherwise teach the model that digits mean one topic or another.
_TABLE: dict[int, str] = {}
for _c in range(0xFF01, 0xFF5F):
    _TABLE[_c] = chr(_c - 0xFEE0).lower()
for _c in (*range(ord("0"), ord("9") + 1), *range(0xFF10, 0xFF1A)):
    _TABLE[_c] = " "
for _ch in "，。！？、；：“”‘’（）《》【】〔〕「」『』…—–-_/\\|,.!?;:\"'()[]{}<>~～·•*#@&%$^+=`":
    _TABLE[ord(_ch)] = " "
del _c, _ch
_SEPARATORS = re.compile("[" + re.escape("".join(sorted(chr(c) for c, v in _TABLE.items() if v == " "))) + r"\s]+")
_WIDE = re.compile("[\uff01-\uff5e]")  # full-width ASCII is rare: translated only when present
_join = operator.add


def normalise(text: str) -> list[str]:
    """The runs of ``text``: lower case, half width, split at digits, punctuation and white space."""
    if _WIDE.search(text):
        text = text.translate(_TABLE)
    return _SEPARATORS.split(text.lower())


def grams(text: str) -> set[str]:
    """The set of character 1- and 2-grams of ``text`` (within runs)."""
    out: set[str] = set()
    for run in normalise(text):
        out.update(run, map(_join, run, run[1:]))
    return out


def fingerprint(rows: Iterable[tuple[str, str]]) -> str:
    """sha256 of labelled texts, in order (what a model was trained on)."""
    h = hashlib.sha256()
    for topic, text in rows:
        h.update(f"{topic}\t{text}\n".encode())
    return h.hexdigest()


# --------------------------------------------------------------- the model
@dataclass
class Model:
    """A trained model: :meth:`best` and :meth:`predict` score a text."""

    topics: tuple[str, ...]
    bias: tuple[float, ...]
    # n-gram -> (round(idf² × SCALE), ((topic index, round(idf × weight × SCALE)), ...));
    # weights close to zero are left out.
    features: dict[str, tuple[int, tuple[tuple[int, int], ...]]]
    threshold: float  # a best topic other than "other" below this probability becomes "other"
    max_chars: int  # only the first max_chars characters of a text are read
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Field j of a packed row holds value_j + offset (never negative). A text
        # has at most 2 × max_chars distinct n-grams, so a field's sum stays below
        # 2 × max_chars × 2 × offset and never carries into the next field.
        offset = max([1] + [abs(v) for idf2, pairs in self.features.values() for v in (idf2, *(w for _, w in pairs))])
        width = (2 * self.max_chars * 2 * offset).bit_length() + 1
        packed: dict[str, int] = {}
        for g, (idf2, pairs) in self.features.items():
            values = [idf2] + [0] * len(self.topics)
            for k, w in pairs:
                values[k + 1] = w
            packed[g] = sum((v + offset) << (width * j) for j, v in enumerate(values))
        self._row = packed.get
        self._offset = offset
        self._fields = tuple(range(0, width * (len(self.topics) + 1), width))
        self._mask = (1 << width) - 1

    def scores(self, text: str) -> list[float]:
        """Linear scores (logits), one per topic."""
        rows = list(filter(None, map(self._row, grams(text[:self.max_chars]))))
        if not rows:
            return list(self.bias)
        total, base, mask = sum(rows), len(rows) * self._offset, self._mask
        n2, *sums = [((total >> shift) & mask) - base for shift in self._fields]
        inv = 1.0 / math.sqrt(n2 * SCALE)  # = 1 / (SCALE × sqrt(Σ idf²))
        return [b + s * inv for b, s in zip(self.bias, sums)]

    def best(self, text: str) -> tuple[str, float]:
        """The most likely topic and its probability (before the threshold)."""
        p = _softmax(self.scores(text))
        k = max(range(len(p)), key=p.__getitem__)
        return self.topics[k], p[k]

    def predict(self, text: str) -> str:
        topic, p = self.best(text)
        if p < self.threshold and topic != "other":
            return "other"
        return topic

    # -- persistence
    def to_json(self) -> dict:
        feats = {g: [idf2, [x for k, w in pairs for x in (k, w)]] for g, (idf2, pairs) in sorted(self.features.items())}
        return {"format": FORMAT, "scale": SCALE, "topics": list(self.topics), "threshold": self.threshold,
                "max_chars": self.max_chars, "bias": list(self.bias), "meta": self.meta, "features": feats}

    def dump(self, path: Path) -> None:
        head = {k: v for k, v in self.to_json().items() if k != "features"}
        lines = [json.dumps(head, ensure_ascii=False, sort_keys=True)[:-1] + ',"features":{']
        feats = self.to_json()["features"]
        # One n-gram per line keeps the diff of a retrained model readable.
        lines += [json.dumps(g, ensure_ascii=False) + ":" + json.dumps(v, separators=(",", ":")) + ","
                  for g, v in feats.items()]
        lines[-1] = lines[-1].rstrip(",")
        path.write_text("\n".join(lines) + "}}\n", encoding="utf-8")


def from_json(data: dict) -> Model:
    if data.get("format") != FORMAT or data.get("scale") != SCALE:
        raise ValueError(f"topic model format {data.get('format')!r}/scale {data.get('scale')!r}, "
                         f"expected {FORMAT}/{SCALE}: retrain it (python -m feeds.topics train)")
    feats = {g: (int(idf2), tuple((int(flat[i]), int(flat[i + 1])) for i in range(0, len(flat), 2)))
             for g, (idf2, flat) in data["features"].items()}
    return Model(tuple(data["topics"]), tuple(data["bias"]), feats, data["threshold"], data["max_chars"],
                 data.get("meta", {}))


def load(path: Path) -> Model:
    return from_json(json.loads(path.read_text(encoding="utf-8")))


def _softmax(z: Sequence[float]) -> list[float]:
    m = max(z)
    e = [math.exp(v - m) for v in z]
    s = sum(e)
    return [v / s for v in e]


# --------------------------------------------------------------- training
@dataclass(frozen=True)
class Params:
    """Training settings, chosen by 5-fold cross-validation on the training texts (docs/INTAKE.md)."""

    epochs: int = 20
    rate: float = 0.5  # learning rate at epoch 0, divided by (1 + 0.2 × epoch)
    l2: float = 1e-3  # weight decay of the rows a text touches
    min_df: int = 2  # an n-gram must occur in this many training texts
    lexicon_repeats: int = 2  # each lexicon entry is added this many times as a one-word text
    prune: float = 0.5  # |idf × weight| below this (after centring) is left out of the model
    threshold: float = 0.35
    max_chars: int = 200  # a longer text is read up to here (time per text stays bounded)
    seed: int = 12345


def train(rows: Sequence[tuple[str, str]], topics: Sequence[str], *, lexicon: Sequence[tuple[str, str]] = (),
          extra: Sequence[tuple[str, str]] = (), params: Params = Params(), meta: dict | None = None) -> Model:
    """Train on labelled texts, plus lexicon entries as one-word texts, plus ``extra`` texts derived from
    them (not part of the fingerprint: they are made from ``rows`` by code). Deterministic."""
    topics = tuple(topics)
    index = {t: i for i, t in enumerate(topics)}
    cap = params.max_chars
    docs = [(index[t], grams(x[:cap])) for t, x in rows]
    docs += [(index[t], grams(w)) for t, w in lexicon] * params.lexicon_repeats
    # The vocabulary and idf come from the labelled texts and the lexicon: the
    # extra texts repeat them, and would let an n-gram seen once count twice.
    df: dict[str, int] = {}
    for _, gs in docs:
        for g in gs:
            df[g] = df.get(g, 0) + 1
    vocab = sorted(g for g, c in df.items() if c >= params.min_df)
    fid = {g: i for i, g in enumerate(vocab)}
    n = len(docs)
    idf = [math.log((1 + n) / (1 + df[g])) + 1.0 for g in vocab]
    docs += [(index[t], grams(x[:cap])) for t, x in extra]
    n = len(docs)
    vectors: list[tuple[int, list[tuple[int, float]]]] = []
    for y, gs in docs:
        ids = sorted(fid[g] for g in gs if g in fid)
        norm = math.sqrt(sum(idf[i] * idf[i] for i in ids)) or 1.0
        vectors.append((y, [(i, idf[i] / norm) for i in ids]))

    K = len(topics)
    W = [[0.0] * K for _ in vocab]
    bias = [0.0] * K
    rng = random.Random(params.seed)
    order = list(range(n))
    for epoch in range(params.epochs):
        lr = params.rate / (1 + 0.2 * epoch)
        decay = lr * params.l2
        rng.shuffle(order)
        for d in order:
            y, vec = vectors[d]
            z = bias[:]
            for i, v in vec:
                row = W[i]
                for k in range(K):
                    z[k] += v * row[k]
            p = _softmax(z)
            p[y] -= 1.0
            for i, v in vec:
                row = W[i]
                for k in range(K):
                    row[k] -= lr * v * p[k] + decay * row[k]
            for k in range(K):
                bias[k] -= lr * p[k]

    # Centre each n-gram's weights on their median: softmax does not change
    # when all of one n-gram's weights move together, and most become ~0.
    # An n-gram left with no weight stays: its idf² counts in the norm.
    features: dict[str, tuple[int, tuple[tuple[int, int], ...]]] = {}
    for g, i in fid.items():
        row = W[i]
        mid = sorted(row)[K // 2]
        features[g] = (round(idf[i] * idf[i] * SCALE),
                       tuple((k, round((w - mid) * idf[i] * SCALE)) for k, w in enumerate(row)
                             if abs(w - mid) * idf[i] >= params.prune))
    info = {"texts": len(rows), "extra": len(extra), "lexicon": len(lexicon), "vocabulary": len(vocab),
            "features": len(features),
            "params": dict(params.__dict__), "fingerprint": fingerprint(rows)}
    info.update(meta or {})
    return Model(topics, tuple(round(b, 6) for b in bias), features, params.threshold, params.max_chars, info)
