"""The training space's settings (dashboard/drill/space.py) and its pages' mark (dashboard/drill/marking.py),
without servers: what a drill would run on, and the refusals of one that is the real platform."""
from __future__ import annotations

from pathlib import Path

import pytest

import settings as settings_module
from dashboard.drill.marking import marked
from dashboard.drill import space
from tickets.config import DomainConfig


def _real(tmp_path: Path, **env: str) -> settings_module.Settings:
    return settings_module.load(environ={"MINSHENG_DRILL_DIR": str(tmp_path / "drill"), **env})


def test_the_training_space_is_apart_by_its_settings(tmp_path: Path) -> None:
    on_sqlite = space.training_settings(_real(tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'real.db'}"))
    assert on_sqlite.database_url == f"sqlite:///{tmp_path / 'drill' / 'training.db'}"
    assert on_sqlite.drill and on_sqlite.sms_gateway == "sandbox" and on_sqlite.port == 8060
    real = _real(tmp_path, DATABASE_URL="postgresql+psycopg://ms:pw@db:5432/minsheng", REDIS_URL="redis://r:6379/0",
                 MINSHENG_SMS_GATEWAY="http", MINSHENG_SMS_GATEWAY_URL="https://sms.example/send")
    drill = space.training_settings(real, port=9001)
    assert drill.database_url == "postgresql+psycopg://ms:pw@db:5432/minsheng_drill"
    assert drill.redis_url == "redis://r:6379/1" and drill.live_channel != real.live_channel
    assert (drill.sms_gateway, drill.sms_gateway_url) == ("sandbox", "") and drill.port == 9001
    assert drill.secret_key != real.secret_key and Path(drill.hotline_sources_dir).parent == tmp_path / "drill"
    assert (DomainConfig.from_settings(drill).ticket_prefix, DomainConfig.from_settings(real).ticket_prefix) == (
        "YL", "MS")
    sentinel = _real(tmp_path, REDIS_URL="redis+sentinel://s1:26379,s2:26379/3/minsheng")
    assert space.drill_redis_url(sentinel) == "redis+sentinel://s1:26379,s2:26379/4/minsheng"
    assert space.drill_redis_url(_real(tmp_path, REDIS_URL="rediss://:pw@r:6380?ssl_cert_reqs=none")) == \
        "rediss://:pw@r:6380/1?ssl_cert_reqs=none"
    with pytest.raises(space.NotApart, match="MINSHENG_DRILL_REDIS_URL"):
        space.drill_redis_url(_real(tmp_path, REDIS_URL="unix:///run/redis.sock?db=2"))


def test_a_drill_on_the_real_database_is_refused(tmp_path: Path) -> None:
    real = _real(tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'real.db'}")
    space.check_apart(real, space.training_settings(real))  # apart: no complaint
    same = _real(tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'real.db'}",
                 MINSHENG_DRILL_DATABASE_URL=f"sqlite:///{tmp_path / 'x' / '..' / 'real.db'}")
    with pytest.raises(space.NotApart, match="is the real database"):
        space.check_apart(same, space.training_settings(same))


@pytest.mark.parametrize("lang, mark, title", [("zh-CN", "<strong>演练</strong>", "<title>【演练】 民生"),
                                               ("en", "<strong>DRILL 演练</strong>", "<title>[DRILL] 民生")])
def test_every_page_is_marked(lang: str, mark: str, title: str) -> None:
    page = marked('<!doctype html><html><head><title>民生</title></head><body class="x"><div id="react-entry-point">'
                  "</div></body></html>", lang)
    assert title in page and mark in page
    assert page.index('<body class="x">') < page.index('id="drill-band"') < page.index("react-entry-point")


def test_a_drill_prints_its_documents_marked() -> None:
    """A PDF printed by the training space's app says 演练 on every page; the real app's does not."""
    from io import BytesIO

    from flask import Flask
    from pypdf import PdfReader

    from dashboard import documents
    from dashboard.drill.marking import CONFIG_KEY

    page = ('<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>督办单</title></head><body>'
            + '<p style="font-family: \'Noto Serif CJK SC\'">督办内容。</p>' * 80 + "</body></html>")
    printed = {}
    for drill in (True, False):
        app = Flask(__name__)
        app.config[CONFIG_KEY] = drill
        with app.app_context():
            reader = PdfReader(BytesIO(documents.write_pdf(page)))
        printed[drill] = [p.extract_text() for p in reader.pages]
    assert len(printed[True]) >= 2 and all("演练文书" in text for text in printed[True])
    assert not any("演练" in text for text in printed[False])
