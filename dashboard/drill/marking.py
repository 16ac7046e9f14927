"""Every page of the training space marked 演练 (``app.py drill``, settings.drill).

One place for all of them: every HTML answer of the drill's server, the Dash screens' page,
the walls, /login, /track and the intake forms alike, gets a band
across its top (演练 and what it means, in the page's language) and a frame around the
screen, and its browser title starts with 【演练】 (a script keeps it so when a screen
changes its title). A screen's own layout knows nothing of it: no screen can forget it. The
PDF documents it prints carry 演练 across every page (``dashboard.documents.write_pdf``).

Also the drill's own session cookie name: browsers share cookies between ports of one host,
so a drill login must neither replace a real one nor be taken for it.
"""
from __future__ import annotations

import json
import re

from flask import Flask, Response
from markupsafe import escape

from dashboard.i18n import request_lang
from layouts.i18n import DEFAULT_LANGUAGE, N_, gettext

SESSION_COOKIE = "minsheng_drill_session"
CONFIG_KEY = "MINSHENG_DRILL"  # set on the drill's Flask app: its printed documents are marked too
MARK = N_("DRILL")
MEANING = N_("Training space: its tickets, figures and texts are for training only and reach no real "
             "screen, figure or citizen")
TITLE = N_("[DRILL]")
NOT_OFFICIAL = N_("Drill document, not an official document")
BAND_ID = "drill-band"

_BODY = re.compile(r"<body[^>]*>", re.IGNORECASE)
_TITLE = re.compile(r"<title>", re.IGNORECASE)
# A band as tall as a wall's smallest type; the full-screen layouts (the wall, the map, the
# work screens) give it its height back.
STYLE = """<style id="drill-style">
:root{--drill-band:max(30px,2.8vh)}
body{padding-top:var(--drill-band)!important;box-sizing:border-box}
.drill-band{position:fixed;top:0;left:0;right:0;height:var(--drill-band);z-index:2147483646;display:flex;
 align-items:center;justify-content:center;gap:1.2em;color:#fff;pointer-events:none;
 background:repeating-linear-gradient(135deg,#c25e00 0 22px,#d97706 22px 44px);
 font:500 max(14px,1.35vh)/1 "Noto Sans CJK SC","Source Han Sans SC","Microsoft YaHei","PingFang SC",sans-serif}
.drill-band strong{font-size:1.35em;letter-spacing:.3em;font-weight:700}
.drill-frame{position:fixed;inset:0;border:4px solid #d97706;pointer-events:none;z-index:2147483646}
.wall,.map-screen{height:calc(100vh - var(--drill-band))!important}
.work{top:var(--drill-band)!important}
</style>"""
# The title keeps its mark whatever a screen's script writes into it.
SCRIPT = """<script>(function(){var p=%s;function k(){if(document.title.indexOf(p)!==0){
document.title=p+document.title;}}k();var t=document.querySelector("title");
if(t&&window.MutationObserver){new MutationObserver(k).observe(t,{childList:true,characterData:true,subtree:true});}
})();</script>"""


def band(lang: str) -> str:
    """The band's HTML in ``lang``: 演练 on every page (an English one says DRILL beside it)."""
    words = gettext(MARK, lang) if lang == DEFAULT_LANGUAGE else f"{gettext(MARK, lang)} {gettext(MARK, DEFAULT_LANGUAGE)}"
    return (f'<div id="{BAND_ID}" class="drill-band" role="status" lang="{lang}"><strong>{escape(words)}</strong>'
            f"<span>{escape(gettext(MEANING, lang))}</span></div><div class=\"drill-frame\"></div>")


def title_prefix(lang: str) -> str:
    return gettext(TITLE, lang) + " "


def marked(html: str, lang: str) -> str:
    """``html`` with the band after its <body>, its title prefixed, and the mark's style."""
    prefix = title_prefix(lang)
    html = _TITLE.sub(lambda m: m.group(0) + str(escape(prefix)), html, count=1)
    extra = band(lang) + SCRIPT % json.dumps(prefix)
    found = _BODY.search(html)
    if found is None:
        return STYLE + extra + html
    return html[:found.end()] + STYLE + extra + html[found.end():]


# A printed page (WeasyPrint repeats a fixed element on every page): the mark across each page.
DOCUMENT_STYLE = """<style>
.drill-watermark{position:fixed;top:38%;left:0;right:0;text-align:center;font-size:110pt;font-weight:700;
 letter-spacing:.3em;color:rgba(217,119,6,.22);transform:rotate(-30deg);z-index:-1}
.drill-line{position:fixed;top:-12mm;left:0;right:0;text-align:center;font-size:10pt;color:#c25e00}
</style>"""


def marked_document(html: str) -> str:
    """A printable document (督办单, 提醒函, the bulletin; Chinese) marked 演练 on every page."""
    zh = DEFAULT_LANGUAGE
    html = _TITLE.sub(lambda m: m.group(0) + str(escape(title_prefix(zh))), html, count=1)
    mark = (f'{DOCUMENT_STYLE}<div class="drill-watermark">{escape(gettext(MARK, zh))}</div>'
            f'<div class="drill-line">{escape(gettext(NOT_OFFICIAL, zh))}</div>')
    found = _BODY.search(html)
    return mark + html if found is None else html[:found.end()] + mark + html[found.end():]


def _mark(response: Response) -> Response:
    if (response.mimetype != "text/html" or response.direct_passthrough or response.is_streamed
            or "Content-Encoding" in response.headers):
        return response
    response.set_data(marked(response.get_data(as_text=True), request_lang()))
    return response


def init_app(server: Flask) -> None:
    """Mark the drill server's pages. Registered after Dash's compression, so it runs before."""
    server.config["SESSION_COOKIE_NAME"] = SESSION_COOKIE
    server.config[CONFIG_KEY] = True
    server.after_request(_mark)
