"""JSON text, fast: orjson where the platform encodes and decodes JSON by the thousand.

Every stored JSON column (the engine's serializer, ``tickets.db``), the outbox payloads
the relay passes on, and the aggregator's Redis values go through here. The text is
UTF-8 (Chinese as itself, not ``\\uXXXX``), non-string keys become strings, and a
datetime becomes its ISO 8601 form; otherwise it is what ``json.dumps`` would write.
"""
from __future__ import annotations

import re
from typing import Any

import orjson

_OPTIONS = orjson.OPT_NON_STR_KEYS


def dumps(value: Any) -> str:
    return orjson.dumps(value, option=_OPTIONS).decode()


loads = orjson.loads

# How deep a JSON body that comes in may nest arrays and objects (the 12345's orders: 3). Deeper is
# refused before it is parsed: Python's own parser recurses, and runs out of stack at ~1,000.
MAX_DEPTH = 32
# A string, closed or running to the end (so that no quote is tried twice), and an innermost pair.
_STRING = re.compile(r'"(?:[^"\\]|\\.)*+(?:"|\\?\Z)', re.DOTALL)
_INNERMOST = re.compile(r"\[[^\[\]{}]*\]|\{[^\[\]{}]*\}")


def too_deep(text: str | bytes, limit: int = MAX_DEPTH) -> bool:
    """Does JSON ``text`` nest arrays and objects more than ``limit`` deep? Read without parsing, in
    linear time: strings out, then the innermost pairs, ``limit`` times; what still pairs up is
    deeper, and so are more than ``limit`` brackets left open (a parser enters each of them)."""
    rest = _STRING.sub("", text.decode("utf-8", "replace") if isinstance(text, bytes) else text)
    for _ in range(limit):
        rest, removed = _INNERMOST.subn("", rest)
        if not removed:
            break
    else:
        if _INNERMOST.search(rest):
            return True
    return rest.count("[") + rest.count("{") > limit


__all__ = ["MAX_DEPTH", "dumps", "loads", "too_deep"]
