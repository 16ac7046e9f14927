# Minsheng: `make run` to try it, `make test` to check it. Both set themselves up.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Debian packages the platform needs to run: Pango (WeasyPrint lays out the printable
# 督办单 and 提醒函 with it, HarfBuzz subsets their fonts) and the CJK fonts it embeds.
RUN_APT := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-noto-cjk
# And the test suite: real PostgreSQL and Redis servers, headless Chromium (and its driver);
# the CJK fonts serve the screenshots too; nginx-light checks and runs deploy/nginx/minsheng.conf,
# openssl and curl as docs/DEPLOY.md uses them (tests/integration/test_deploy_guide.py).
TEST_APT := $(RUN_APT) postgresql redis-server chromium chromium-driver poppler-utils nginx-light openssl curl
PYTEST_ARGS ?=
# Test processes: each has its own PostgreSQL, Redis and Chromium; a module stays in one process.
# Three on two cores: a third of the suite waits on browsers, servers and timers, not the CPU.
TEST_WORKERS ?= 3

.PHONY: run test venv test-venv system-run-deps system-test-deps bench screenshots catalogue clean

$(VENV)/.stamp-run: pyproject.toml
	@$(PYTHON) -m venv --help >/dev/null 2>&1 && $(PYTHON) -c 'import ensurepip' 2>/dev/null || \
	  { $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv python3-dev; }
	[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e .
	touch $@

$(VENV)/.stamp-test: $(VENV)/.stamp-run pyproject.toml
	$(PY) -m pip install -q -e '.[test]'
	touch $@

venv: $(VENV)/.stamp-run
test-venv: $(VENV)/.stamp-test

## Start the platform with the simulated feed on the embedded default
## (SQLite + in-process Redis stand-in): http://127.0.0.1:8050/wall
run: system-run-deps venv
	$(PY) app.py run --simulate --backfill-hours 3

# $(call apt_install,PACKAGES): the Debian packages of PACKAGES not installed yet.
define apt_install
	@missing=""; \
	for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi
endef

system-run-deps:
	$(call apt_install,$(RUN_APT))

system-test-deps:
	$(call apt_install,$(TEST_APT))

## The whole suite, against a real PostgreSQL, a real Redis and headless Chromium.
test: system-test-deps test-venv
	# MINSHENG_SLOW=1: the full Boston file (121,145 rows, ~2 min) runs too where ../shared/data has it.
	$(PY) -m mypy
	# Bytecode is written (a PYTHONDONTWRITEBYTECODE=1 in the environment made every test process
	# and every app.py it starts compile the platform again, and pytest rewrite its plugins' asserts).
	PYTHONDONTWRITEBYTECODE= MINSHENG_REQUIRE_REAL_SERVERS=1 MINSHENG_SLOW=1 \
	  $(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile --durations=25 $(PYTEST_ARGS)

## The screen and message catalogue: extract every gettext("…")/N_("…") (babel.cfg) and merge
## the new ones into zh_CN as untranslated; translate them in the .po (make test checks).
catalogue: venv
	mkdir -p build
	$(VENV)/bin/pybabel -q extract -F babel.cfg --no-location --sort-output --project Minsheng -o build/messages.pot .
	$(VENV)/bin/pybabel -q update -i build/messages.pot -d layouts/translations -l zh_CN \
	  --no-fuzzy-matching --ignore-obsolete -w 100

## Benchmarks (results go to docs/PERFORMANCE.md by hand).
bench: test-venv
	$(PY) bench/live_push.py

## Screenshots of the wall at 1920x1080 and 3840x2160 into docs/.
screenshots: test-venv
	$(PY) docs/make_screenshots.py

clean:
	rm -rf $(VENV) data .pytest_cache
