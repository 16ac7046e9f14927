"""Screenshots of the wall's screens (layouts/wall_screens.py) at 1920×1080 and 3840×2160 into
docs/screenshots/wall-<screen>-<size>.png: a throwaway SQLite platform with 60 tickets of the last
two hours and 12 whose contact clock has run out or is near it (so the duty list has rows).

    python docs/wall_screens_screenshots.py
"""
import sys, time, tempfile, random
sys.path.insert(0, ".")
from datetime import datetime, timedelta, timezone
from tests.servers import PlatformProcess, CHROMIUM, CHROMIUM_ARGS
from tests.helpers import new_request, submit
from tickets.bootstrap import session_factory
from playwright.sync_api import sync_playwright
d = tempfile.mkdtemp()
p = PlatformProcess(f"sqlite:///{d}/p.db").start()
f = session_factory(p.database_url)
rng = random.Random(7)
places = [(36.664, 117.023, "历下区"), (36.647, 116.999, "市中区"), (36.674, 117.023, "历下区"), (36.66, 116.96, "槐荫区")]
now = datetime.now(timezone.utc)
chans = ["hotline_12345", "cad_110", "call", "service_window", "director_mailbox"]
topics = ["noise", "theft", "fraud", "traffic", "household", "dispute"]
for i in range(60):
    lat, lon, dist = rng.choice(places)
    submit(f, new_request(now - timedelta(minutes=rng.randint(0, 100), hours=rng.choice([0,0,0,30])), channel=rng.choice(chans), topic=rng.choice(topics),
        phone=f"1390{i:07d}", lat=lat + rng.uniform(-.01, .01), lon=lon + rng.uniform(-.01, .01), district=dist), now=now)
for i in range(12):  # clocks run from their own receipt: past the contact hour, or past 75% of it
    lat, lon, dist = rng.choice(places)
    at = now - timedelta(minutes=rng.choice([50, 55, 70, 95, 110]))
    submit(f, new_request(at, channel=rng.choice(chans), topic=rng.choice(topics), phone=f"1391{i:07d}",
        lat=lat + rng.uniform(-.01, .01), lon=lon + rng.uniform(-.01, .01), district=dist), now=at)
try:
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for w, h in ((1920, 1080), (3840, 2160)):
            for name, q in (("overview", "screen=overview"), ("map", "screen=map"), ("rankings", "screen=rankings"), ("duty", "screen=duty"), ("branch-JN-LX", "unit=JN-LX")):
                page = b.new_page(viewport={"width": w, "height": h})
                page.goto(p.wall_url(f"/wall?{q}"))
                page.wait_for_selector("#wall-conn.conn-ok")
                time.sleep(6)
                page.screenshot(path=f"docs/screenshots/wall-{name}-{w}x{h}.png")
                page.close()
finally:
    p.stop()
