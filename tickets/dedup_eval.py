"""Precision and recall of de-duplication on the labelled pairs.

    .venv/bin/python -m tickets.dedup_eval [--only tuning|heldout] [--quiet] [PAIRS.yaml]

Tuning pairs are the ones thresholds and rules may be chosen on; held-out pairs
are never used to choose anything (``--only tuning`` keeps them out of sight
while tuning). ``--quiet``: the figures without the list of wrong verdicts.

Each pair is judged as intake would judge it: the later record is the new
one, the earlier one the open ticket (:func:`tickets.dedup.compare`).

- auto-merge: pairs judged *certain* (merged at intake without asking);
  precision = true duplicates among them, recall = share of all duplicates;
- suggestions: pairs judged *likely* (a suggestion for the dispatcher);
  precision = true duplicates among them, recall = share of all duplicates;
- flagged: certain or likely; recall = duplicates a person never has to
  find on their own.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from geo.measure import distance_m
from tickets.dedup import CERTAIN, LIKELY, NONE, Params, Record, compare, similarity

PAIRS_FILE = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "dedup_pairs.yaml"
TZ = ZoneInfo("Asia/Shanghai")

Pair = tuple[str, str, str, str]  # a, b, duplicate|distinct, category


def load(path: Path = PAIRS_FILE) -> tuple[dict[str, Record], list[Pair], list[Pair]]:
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    records = {}
    for rid, r in data["records"].items():
        records[rid] = Record.of(
            channel=r["ch"], received_at=datetime.fromisoformat(r["at"]).replace(tzinfo=TZ), topic=r["tp"],
            title=r["ti"], content=r["c"], phone=r.get("ph") or None, kind=r.get("k"),
            lat=r.get("lat"), lon=r.get("lon"), district=r.get("d"), ticket_id=None, number=rid)
    tuning = [tuple(p) for p in data["tuning_pairs"]]
    heldout = [tuple(p) for p in data["heldout_pairs"]]
    return records, tuning, heldout


@dataclass
class Metrics:
    pairs: int = 0
    duplicates: int = 0
    certain: int = 0
    certain_true: int = 0
    likely: int = 0
    likely_true: int = 0
    mistakes: list[str] = field(default_factory=list)

    @staticmethod
    def _ratio(a: int, b: int) -> float | None:
        return a / b if b else None

    @property
    def auto_precision(self) -> float | None:
        return self._ratio(self.certain_true, self.certain)

    @property
    def auto_recall(self) -> float | None:
        return self._ratio(self.certain_true, self.duplicates)

    @property
    def suggestion_precision(self) -> float | None:
        return self._ratio(self.likely_true, self.likely)

    @property
    def suggestion_recall(self) -> float | None:
        return self._ratio(self.likely_true, self.duplicates)

    @property
    def flagged_precision(self) -> float | None:
        return self._ratio(self.certain_true + self.likely_true, self.certain + self.likely)

    @property
    def flagged_recall(self) -> float | None:
        return self._ratio(self.certain_true + self.likely_true, self.duplicates)

    def summary(self) -> dict[str, Any]:
        def pct(v: float | None) -> str:
            return "n/a" if v is None else f"{v:.1%}"

        return {
            "pairs": self.pairs, "duplicates": self.duplicates,
            "auto-merge": (f"{self.certain} merged, precision {pct(self.auto_precision)}, "
                           f"recall {pct(self.auto_recall)}"),
            "suggestions": (f"{self.likely} suggested, precision {pct(self.suggestion_precision)}, "
                            f"recall {pct(self.suggestion_recall)}"),
            "flagged (merged or suggested)": f"precision {pct(self.flagged_precision)}, "
                                             f"recall {pct(self.flagged_recall)}",
        }


def evaluate(records: dict[str, Record], pairs: list[Pair], params: Params | None = None) -> Metrics:
    params = params or Params()
    m = Metrics()
    for a_id, b_id, label, category in pairs:
        a, b = records[a_id], records[b_id]
        new, old = (a, b) if a.received_at >= b.received_at else (b, a)
        verdict = compare(new, old, params)
        dup = label == "duplicate"
        m.pairs += 1
        m.duplicates += dup
        if verdict.level == CERTAIN:
            m.certain += 1
            m.certain_true += dup
        elif verdict.level == LIKELY:
            m.likely += 1
            m.likely_true += dup
        wrong = {(CERTAIN, False): "merged, distinct", (LIKELY, False): "suggested, distinct",
                 (NONE, True): "missed duplicate"}.get((verdict.level, dup))
        if wrong:
            distance = distance_m(a.lat, a.lon, b.lat, b.lon) if a.has_point and b.has_point else None  # type: ignore[arg-type]
            m.mistakes.append(f"{wrong}: {a_id}–{b_id} ({category}): "
                              f"similarity {similarity(a.text, b.text):.2f}, "
                              f"{'%.0f m' % distance if distance is not None else 'no point'}")
    return m


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tickets.dedup_eval", description=__doc__.split("\n")[0])
    parser.add_argument("pairs", nargs="?", type=Path, default=PAIRS_FILE)
    parser.add_argument("--only", choices=("tuning", "heldout"), help="one part of the pairs only")
    parser.add_argument("--quiet", action="store_true", help="figures only, not the wrong verdicts")
    args = parser.parse_args(argv)
    records, tuning, heldout = load(args.pairs)
    parts = [("tuning", tuning), ("held out", heldout), ("all", tuning + heldout)]
    if args.only:
        parts = [parts[0] if args.only == "tuning" else parts[1]]
    for name, pairs in parts:
        m = evaluate(records, pairs)
        print(f"== {name}")
        for key, value in m.summary().items():
            print(f"  {key}: {value}")
        if name != "all" and not args.quiet:
            for line in sorted(m.mistakes):
                print(f"    {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
