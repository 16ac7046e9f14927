"""The test suite's own rules: a fixture is defined in one place only (so its name means
one thing everywhere), and the kinds of test stay in their folders (conftest.py refuses
a unit test that asks for a server, a browser or the platform)."""
from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

from tests.helpers import ROOT

TESTS = ROOT / "tests"


def fixture_definitions(folder: Path = TESTS) -> dict[str, list[str]]:
    """Fixture name → the files (and lines) that define it."""
    found: dict[str, list[str]] = defaultdict(list)
    for path in sorted(folder.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef) and any(
                    "fixture" in ast.unparse(d).split("(")[0] for d in node.decorator_list):
                found[node.name].append(f"{path.relative_to(folder.parent)}:{node.lineno}")
    return dict(found)


def test_each_fixture_is_defined_once() -> None:
    twice = {name: where for name, where in fixture_definitions().items() if len(where) > 1}
    assert not twice, f"defined more than once (merge them, or give each its own name): {twice}"


def test_the_check_finds_a_fixture_defined_twice(tmp_path: Path) -> None:
    for name in ("test_a.py", "test_b.py"):
        (tmp_path / name).write_text("import pytest\n\n\n@pytest.fixture\ndef platform():\n    return 1\n")
    assert sorted(fixture_definitions(tmp_path)["platform"]) == [
        f"{tmp_path.name}/test_a.py:5", f"{tmp_path.name}/test_b.py:5"]


def test_every_test_is_in_a_kind_folder() -> None:
    loose = sorted(p.name for p in TESTS.glob("test_*.py"))
    assert not loose, f"put these in tests/unit, tests/integration or tests/e2e: {loose}"
