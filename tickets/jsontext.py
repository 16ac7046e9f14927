"""JSON text, fast: orjson where the platform encodes and decodes JSON by the thousand.

Every stored JSON column (the engine's serializer, ``tickets.db``), the outbox payloads
the relay passes on, and the aggregator's Redis values go through here. The text is
UTF-8 (Chinese as itself, not ``\\uXXXX``), non-string keys become strings, and a
datetime becomes its ISO 8601 form; otherwise it is what ``json.dumps`` would write.
"""
from __future__ import annotations

from typing import Any

import orjson

_OPTIONS = orjson.OPT_NON_STR_KEYS


def dumps(value: Any) -> str:
    return orjson.dumps(value, option=_OPTIONS).decode()


loads = orjson.loads

__all__ = ["dumps", "loads"]
