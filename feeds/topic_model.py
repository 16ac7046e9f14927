"""A character n-gram topic model for Chinese citizen text: trained with scikit-learn, scored in pure Python.

Multinomial logistic regression over the presence of character 1- and
2-grams, tf-idf weighted and L2-normalised. :func:`train` fits it with
scikit-learn (``TfidfVectorizer`` and ``LogisticRegression``) and exports the
weights to a :class:`Model`; :meth:`Model.dump` writes it as JSON and
:func:`load` reads it back. Scoring a text needs neither scikit-learn nor
numpy: the model is a dictionary of n-grams, and a text's scores are the sum
of its n-grams' rows (what scikit-learn's ``predict_proba`` computes, to the
rounding below). ``feeds/topics.py`` loads the shipped model
(``feeds/topic_model.json``) once, and says how it is trained and measured.

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
import re
import struct
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
    # n-gram -> [round(idf² × SCALE), [topic index, round(idf × weight × SCALE), topic index, ...]],
    # as in the file (lists: loading builds nothing more); weights close to zero are left out.
    features: dict[str, list]
    threshold: float  # a best topic other than "other" below this probability becomes "other"
    max_chars: int  # only the first max_chars characters of a text are read
    meta: dict = field(default_factory=dict)
    # A text's features: the shipped model's are always :func:`grams` (the file
    # holds n-grams); cross-validation tries others (feeds/topics.py FEATURES).
    analyzer: Callable[[str], Iterable[str]] = field(default=grams, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Field j of a packed row holds value_j + offset (never negative). A text
        # has at most 2 × max_chars distinct n-grams (fewer than 4 × max_chars + 64
        # features with the words or rules cross-validation tries), so a field's
        # sum stays below that × 2 × offset and never carries into the next field.
        offset = max([1] + [abs(v) for idf2, flat in self.features.values() for v in (idf2, *flat[1::2])])
        width = ((4 * self.max_chars + 64) * 2 * offset).bit_length() + 1
        # Fields of 32 or 64 bits: a row is then struct-packed bytes read as one integer.
        width = 32 if width <= 32 else 64 if width <= 64 else width
        fields = len(self.topics) + 1
        packer = struct.Struct(f"<{fields}{'I' if width == 32 else 'Q'}").pack if width <= 64 else None
        from_bytes = int.from_bytes
        packed: dict[str, int] = {}
        for g, (idf2, flat) in self.features.items():
            values = [offset] * fields
            values[0] += idf2
            for i in range(0, len(flat), 2):
                values[flat[i] + 1] += flat[i + 1]
            packed[g] = (from_bytes(packer(*values), "little") if packer
                         else sum(v << (width * j) for j, v in enumerate(values)))
        self._row = packed.get
        self._offset = offset
        self._fields = tuple(range(0, width * (len(self.topics) + 1), width))
        self._mask = (1 << width) - 1

    def scores(self, text: str) -> list[float]:
        """Linear scores (logits), one per topic."""
        rows = list(filter(None, map(self._row, self.analyzer(text[:self.max_chars]))))
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
        if self.analyzer is not grams:
            raise ValueError("only a character n-gram model can be written (its file holds n-grams)")
        feats = {g: [idf2, list(flat)] for g, (idf2, flat) in sorted(self.features.items())}
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
    return Model(tuple(data["topics"]), tuple(data["bias"]), data["features"], data["threshold"],
                 data["max_chars"], data.get("meta", {}))


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
    """Training settings, chosen by 5-fold cross-validation on the training texts (docs/TOPICS.md)."""

    C: float = 10.0  # inverse L2 penalty of scikit-learn's LogisticRegression
    min_df: int = 1  # an n-gram must occur in this many training texts (lexicon entries included)
    lexicon_repeats: int = 1  # each lexicon entry is added this many times as a one-word text
    tol: float = 1e-8  # solved this far: the penalised problem has one optimum, reached whatever the version
    max_iter: int = 5000
    prune: float = 0.1  # |idf × weight| below this (after centring) is left out of the model file
    threshold: float = 0.3
    max_chars: int = 200  # a longer text is read up to here (time per text stays bounded)


def fit(rows: Sequence[tuple[str, str]], *, lexicon: Sequence[tuple[str, str]] = (),
        extra: Sequence[tuple[str, str]] = (), params: Params = Params(),
        analyzer: Callable[[str], Iterable[str]] = grams) -> tuple[Any, Any]:
    """scikit-learn's ``(TfidfVectorizer, LogisticRegression)`` fitted to labelled texts, plus lexicon
    entries as one-word texts, plus ``extra`` texts derived from them: binary features from
    ``analyzer`` (a text's first ``params.max_chars`` characters), idf-weighted, L2-normalised;
    multinomial logistic regression with an L2 penalty. Deterministic: one thread, features in
    sorted order, the (single) optimum solved to ``params.tol``.

    scikit-learn is imported here only: loading and using a model never needs it."""
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    cap = params.max_chars

    def features(text: str) -> list[str]:
        return sorted(analyzer(text[:cap]))

    base = [*rows, *[(t, w) for t, w in lexicon] * params.lexicon_repeats]
    # The vocabulary and idf come from the labelled texts and the lexicon: the
    # extra texts repeat them, and would let an n-gram seen once count twice.
    vectorizer = TfidfVectorizer(analyzer=features, binary=True, norm="l2", use_idf=True, smooth_idf=True,
                                 min_df=params.min_df, dtype=np.float64)
    vectorizer.fit([x for _, x in base])
    docs = [*base, *extra]
    clf = LogisticRegression(C=params.C, tol=params.tol, max_iter=params.max_iter)
    with threadpool_limits(limits=1):  # BLAS threads would only contend on a small machine, and vary sums
        clf.fit(vectorizer.transform([x for _, x in docs]), [t for t, _ in docs])
    return vectorizer, clf


def export(vectorizer: Any, clf: Any, topics: Sequence[str], params: Params = Params(),
           meta: dict | None = None, analyzer: Callable[[str], Iterable[str]] = grams) -> Model:
    """The :class:`Model` of a fitted vectorizer and classifier (:func:`fit`): per feature, its idf² and
    its weights × idf, as integers (× :data:`SCALE`), weights below ``params.prune`` left out."""
    import sklearn

    topics = tuple(topics)
    classes = [str(c) for c in clf.classes_]
    if set(classes) != set(topics):
        raise ValueError(f"the training texts cover {sorted(classes)}, expected every one of {sorted(topics)}")
    order = [classes.index(t) for t in topics]
    coef = clf.coef_[order]  # K × V, rows in the order of ``topics``
    bias = clf.intercept_[order]
    idf = vectorizer.idf_
    K = len(topics)
    # Centre each feature's weights on their median: softmax does not change
    # when all of one feature's weights move together, and most become ~0.
    # A feature left with no weight stays: its idf² counts in the norm.
    features: dict[str, list] = {}
    keep = round(params.prune * SCALE)
    for g, j in sorted(vectorizer.vocabulary_.items()):
        row = [float(w) for w in coef[:, j]]
        mid = sorted(row)[K // 2]
        f = float(idf[j])
        # Pruned on the stored (rounded) value, not the float: a weight at the threshold, 0.1 to
        # three digits, is kept by every version of scikit-learn (1.9 solved one to 0.09998 where
        # the shipped model had 0.10001, and dropped three n-grams' entries).
        weights = [(k, round((w - mid) * f * SCALE)) for k, w in enumerate(row)]
        features[str(g)] = [round(f * f * SCALE), [x for k, v in weights if abs(v) >= keep for x in (k, v)]]
    info = {"features": len(features), "trainer": f"scikit-learn {sklearn.__version__} LogisticRegression",
            "iterations": int(max(clf.n_iter_)), "params": dict(params.__dict__)}
    info.update(meta or {})
    return Model(topics, tuple(round(float(b), 6) for b in bias), features, params.threshold, params.max_chars,
                 info, analyzer)


def train(rows: Sequence[tuple[str, str]], topics: Sequence[str], *, lexicon: Sequence[tuple[str, str]] = (),
          extra: Sequence[tuple[str, str]] = (), params: Params = Params(), meta: dict | None = None,
          analyzer: Callable[[str], Iterable[str]] = grams, fitted: tuple[Any, Any] | None = None) -> Model:
    """:func:`fit` then :func:`export`: a model scored without scikit-learn. ``extra`` texts are derived
    from ``rows`` by code, so they are not part of the fingerprint. ``fitted``: what :func:`fit` gave for
    these arguments, if already at hand (a test compares the model with scikit-learn's own answers)."""
    vectorizer, clf = fitted or fit(rows, lexicon=lexicon, extra=extra, params=params, analyzer=analyzer)
    info = {"texts": len(rows), "extra": len(extra), "lexicon": len(lexicon), "fingerprint": fingerprint(rows)}
    return export(vectorizer, clf, topics, params, {**info, **(meta or {})}, analyzer)
