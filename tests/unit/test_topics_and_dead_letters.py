"""Topic and kind from text (feeds/topics.py: examples; accuracy floors are in test_topic_accuracy.py) and the
shared dead-letter module."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from feeds import topics
from feeds.dead_letters import FieldError, Rejected, as_text, reject
from tests.helpers import FIXTURES
from tickets.bootstrap import session_factory
from tickets.db import make_engine
from tickets.uow import unit_of_work
from tickets.models import Base, DeadLetter


def test_the_old_rules_are_kept_for_comparison_and_score_as_docs_say() -> None:
    # docs/TOPICS.md compares the model with the keyword rules it replaced: 91.3% on the set they were tuned on.
    result = topics.evaluate(topics.read_labelled(FIXTURES / "topics_labelled.tsv"), topics.rules_topic)
    assert result.total == 150 and result.correct == 137, result.confusions
    held = topics.evaluate(topics.read_labelled(FIXTURES / "topics_heldout.tsv"), topics.rules_topic)
    assert held.total == 55 and held.correct == 27, held.confusions


@pytest.mark.parametrize("text, topic", [
    ("我的护照丢了，怎么补办？", "exit_entry"),
    ("身份证丢失了需要补办", "household"),
    ("钱包在地铁上被偷了", "theft"),
    ("钱包落在出租车上了", "lost_property"),
    ("有人冒充公检法让我转账到安全账户", "fraud"),
    ("对派出所民警的态度很不满意", "conduct"),
    ("今天天气很好", "other"),
])
def test_classify(text: str, topic: str) -> None:
    assert topics.topic_of(text) == topic


def test_kind_from_words() -> None:
    assert topics.kind_of("我要举报有人聚众赌博") == "report"
    assert topics.kind_of("请问居住证怎么办理") == "consultation"
    assert topics.kind_of("建议增设红绿灯") == "suggestion"
    assert topics.kind_of("没有线索的一句话", default="help") == "help"


def test_classify_gives_topic_and_kind_in_one_call() -> None:
    assert topics.classify("我要举报有人冒充公检法诈骗老人", "help") == ("fraud", "report")
    assert topics.classify("请问护照过期了怎么换", "help") == ("exit_entry", "consultation")
    assert topics.classify("今天天气很好", "suggestion") == ("other", "suggestion")


def test_reject_keeps_the_raw_payload_and_reasons() -> None:
    engine = make_engine("sqlite://")
    Base.metadata.create_all(engine)
    factory = session_factory(engine)
    with unit_of_work(factory) as s:
        letter = reject(s, "open311", "POST /x", b"\xc4\xe3\xba\xc3", [FieldError("lat", "must be a number")],
                        external_id="E1")
        assert letter.id is not None
    with factory() as s:
        stored = s.scalar(select(DeadLetter))
        assert (stored.channel, stored.source, stored.external_id, stored.status) == ("open311", "POST /x", "E1", "new")
        assert stored.payload == "你好"  # GB18030 bytes decoded, not mangled
        assert stored.errors == [{"field": "lat", "message": "must be a number"}]
    with pytest.raises(ValueError), unit_of_work(factory) as s:
        reject(s, "open311", "x", "{}", [])


def test_helpers() -> None:
    assert as_text({"a": "中"}) == '{"a": "中"}' and as_text(None) == ""
    err = Rejected([FieldError("a", "b"), FieldError("c", "d")], external_id="X")
    assert str(err) == "a: b; c: d" and err.external_id == "X"
