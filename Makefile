# Forgeline: `make run` for a working site, `make test` for the whole suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 5000
HOST   ?= 127.0.0.1
# gunicorn processes for `make run` (app/gunicorn_conf.py sizes production at two per core)
WEB_PROCESSES ?= 2
RQ_WORKERS    ?= 2
REDIS_URL     ?= redis://127.0.0.1:6379/0
export FLASK_APP := app
export REDIS_URL
METRICS_DIR   ?= $(CURDIR)/instance/prometheus

.PHONY: run test install install-dev install-perf migrate seed redis chromium promtool lint format clean

$(VENV)/.installed: requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.lock
	$(BIN)/pip install -q --no-deps -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.lock
	$(BIN)/pip install -q -r requirements-dev.lock
	touch $@

$(VENV)/.installed-perf: $(VENV)/.installed-dev requirements-perf.lock
	$(BIN)/pip install -q -r requirements-perf.lock
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev
install-perf: $(VENV)/.installed-perf

migrate: install
	$(BIN)/flask db upgrade

seed: migrate
	@$(BIN)/flask seed-demo

# Start a local redis-server only when nothing answers at REDIS_URL.
redis: install
	@$(BIN)/python -c "import redis,os; redis.Redis.from_url(os.environ['REDIS_URL']).ping()" 2>/dev/null \
	  && echo "Redis answers at $(REDIS_URL)" \
	  || { command -v redis-server >/dev/null \
	       || { echo "No Redis at $(REDIS_URL) and no redis-server to start: apt-get install redis-server, or set REDIS_URL." >&2; exit 1; }; \
	       echo "Starting redis-server on 127.0.0.1:6379"; \
	       redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no --dir /tmp; sleep 0.5; }

run: seed redis
	@rm -rf $(METRICS_DIR) && mkdir -p $(METRICS_DIR)
	@# On Ctrl-C or exit the trap stops this shell's own children (workers, gunicorn) by pid and
	@# waits for them: `kill 0` signalled the whole process group, make included, which then crashed.
	@export PROMETHEUS_MULTIPROC_DIR=$(METRICS_DIR); \
	trap 'trap - INT TERM EXIT; kill $$(jobs -p) 2>/dev/null; wait' INT TERM EXIT; \
	for i in $$(seq $(RQ_WORKERS)); do $(BIN)/flask worker & done; \
	$(BIN)/gunicorn -c app/gunicorn_conf.py -w $(WEB_PROCESSES) -b $(HOST):$(PORT) 'wsgi:app' & \
	sleep 1; echo; echo "  Forgeline is running at http://$(HOST):$(PORT)/  (Ctrl-C stops web and workers)"; echo; \
	wait

# Browser tests drive Debian's Chromium through Playwright (never a browser download).
chromium:
	@test -x /usr/bin/chromium || { echo "Installing Debian's chromium for the browser tests"; \
	  apt-get install -y -q chromium >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; } \
	  || { echo "apt-get install chromium failed (run as root?)" >&2; exit 1; }; }

# promtool checks docs/prometheus/ (tests/ops/test_prometheus.py): Debian's prometheus package,
# without its recommends (node exporter). No service is started: policy-rc.d or the absence of
# an init system blocks it, and the target stops one that a systemd host would have started.
promtool:
	@command -v promtool >/dev/null || { echo "Installing Debian's prometheus for promtool"; \
	  apt-get install -y -q --no-install-recommends prometheus >/dev/null 2>&1 \
	  || { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends prometheus >/dev/null; } \
	  || { echo "apt-get install prometheus failed (run as root?)" >&2; exit 1; }; \
	  if command -v systemctl >/dev/null && systemctl is-active -q prometheus 2>/dev/null; then \
	    systemctl disable --now -q prometheus; fi; }

# Two pytest-xdist processes (each with its own Redis server and databases): CI mode took
# 9:21 instead of 12:34 on 2 cores. TEST_PROCESSES=0 runs the suite in one process.
TEST_PROCESSES ?= 2
test: lint chromium promtool
	$(BIN)/pytest $(if $(filter-out 0,$(TEST_PROCESSES)),-n $(TEST_PROCESSES),) $(if $(CI),-p no:cacheprovider,) $(PYTEST_ARGS)

# Lint runs first in `make test`; `make format` rewrites what `ruff format --check` refuses.
LINTED := app tests migrations wsgi.py
lint: install-dev
	$(BIN)/ruff format --check --quiet $(LINTED)
	$(BIN)/ruff check --quiet $(LINTED)

format: install-dev
	$(BIN)/ruff format --quiet $(LINTED)
	$(BIN)/ruff check --quiet --fix $(LINTED)

clean:
	rm -rf $(VENV) $(METRICS_DIR) .pytest_cache
