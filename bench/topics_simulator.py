"""The topic model on the simulated feed's texts (feeds/simulator.py): another author's templates,
never trained on. Accuracy and misroutes of the model and of the old keyword rules.

    python bench/topics_simulator.py                     # seed 4242, 36 h at 200/h (docs/TOPICS.md)
    python bench/topics_simulator.py --model OLD.json    # another model file, e.g. git show REV:feeds/topic_model.json
"""
from __future__ import annotations

import argparse
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from feeds import topic_model, topics  # noqa: E402
from feeds.simulator import Simulator  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=4242)
    parser.add_argument("--hours", type=int, default=36)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--model", help="another model file")
    parser.add_argument("-v", "--verbose", action="store_true", help="per-topic figures")
    args = parser.parse_args()
    predict = topic_model.load(Path(args.model)).predict if args.model else topics.topic_of
    sim = Simulator(seed=args.seed, rate_per_hour=args.rate, tz=ZoneInfo("Asia/Shanghai"))
    start = datetime(2026, 11, 20, tzinfo=timezone.utc)
    rows = [(r.topic, f"{r.title} {r.content}") for r in sim.requests_between(start, start + timedelta(hours=args.hours))]
    name = f"simulator (seed {args.seed}, {args.hours} h at {args.rate:g}/h from {start:%Y-%m-%d %H:%M} UTC)"
    topics._print_evaluation(f"model {name}", topics.evaluate(rows, predict), per_topic=args.verbose)
    topics._print_evaluation(f"rules {name}", topics.evaluate(rows, topics.rules_topic), per_topic=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
