# dotdo workers: `make dev` starts the whole platform locally, `make test` runs every test.
# Both bootstrap .venv (Python) and node_modules (wrangler, Node 22) on first use.

SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8787
HOST ?= 127.0.0.1

.DEFAULT_GOAL := help
.PHONY: help bootstrap dev test test-fast lint format check-wrangler create-service registry build deploy bench clean mutate

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml constraints.txt
	@test -n "$(PYTHON)" || { echo "Python 3.11 is required (python3.11 or python3 on PATH)"; exit 1; }
	@echo "==> [1/3] creating $(VENV) with $(PYTHON) (first run only)"
	$(PYTHON) -m venv $(VENV)
	@echo "==> [2/3] installing the Python packages pinned in constraints.txt (about 30 s the first time)"
	set -o pipefail; $(BIN)/python -m pip install --disable-pip-version-check --progress-bar=off \
		-c constraints.txt -e '.[dev]' | { grep -E '^(Collecting|Successfully installed)' || true; }
	echo "$(CURDIR)/dotdo_dev/sdk" > "$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/dotdo_local_sdk.pth"
	@touch $@

node_modules/.installed: package.json package-lock.json
	@echo "==> [3/3] installing wrangler, miniflare, pyodide and Node 22 from package-lock.json (about 20 s the first time)"
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# The MCP SDK's 2.x line, a test peer that cannot share .venv with the 1.x line: a folder of its own.
MCP2 := .cache/mcp2
$(MCP2)/.installed: tests/e2e/mcp2-requirements.txt | $(VENV)/.installed
	@echo "==> installing the MCP SDK 2.x test peer into $(MCP2) (pinned in $<)"
	rm -rf $(MCP2)
	set -o pipefail; $(BIN)/python -m pip install --disable-pip-version-check --progress-bar=off --no-deps \
		--target $(MCP2) -r $< | { grep -E '^Successfully installed' || true; }
	@touch $@

bootstrap: $(VENV)/.installed node_modules/.installed ## Create .venv and node_modules if missing

dev: bootstrap ## Serve the whole platform on $(HOST):$(PORT) (dispatcher in front of every worker)
	$(BIN)/python -m dotdo_dev dev --host $(HOST) --port $(PORT)

# Test options: JOBS=4 (suites at once; default: one more than the CPU count), SUITE=workers/db (only these suites,
# comma-separated: a name, `tests`, or a test file), K=auth (only the tests matching, as pytest -k).
TEST_ARGS = $(if $(JOBS),--jobs $(JOBS)) $(if $(SUITE),--suite '$(SUITE)') $(if $(K),-k '$(K)')

test: bootstrap $(MCP2)/.installed ## Lint, check formatting, run every test suite [JOBS=4] [SUITE=workers/db] [K=auth]
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m dotdo_dev test $(TEST_ARGS)

test-fast: bootstrap $(MCP2)/.installed ## The inner loop: no slow suite or test, no lint [JOBS=4] [SUITE=workers/db] [K=auth]
	$(BIN)/python -m dotdo_dev test --fast $(TEST_ARGS)

lint: bootstrap ## ruff check only
	$(BIN)/ruff check .

format: bootstrap ## Format the code with ruff
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

create-service: bootstrap ## Generate a service: make create-service NAME=orders TYPE=domain
	$(BIN)/dotdo create-service --name "$(NAME)" --type "$(or $(TYPE),domain)"

registry: bootstrap ## Regenerate shared/registry.py and the gateway's bindings from every service.toml
	$(BIN)/python -m dotdo_dev.registry

build: bootstrap ## A worker's upload bundle: make build WORKER=db [OUTDIR=dist/db] [ENV=staging]
	@test -n "$(WORKER)" || { echo "usage: make build WORKER=<name> [OUTDIR=dist/<name>] [ENV=<environment>]"; exit 2; }
	$(BIN)/dotdo build "$(WORKER)" --outdir "$(or $(OUTDIR),dist/$(WORKER))" $(if $(ENV),--env "$(ENV)")

# Deploy through the deploy API (never Cloudflare directly): needs DEPLOY_API_KEY; DEPLOY_URL defaults to
# https://deploy.do. The same command the deploy workflow runs (.github/workflows/deploy.yml).
deploy: bootstrap ## Build and post to the deploy API: make deploy ENV=staging [SERVICE=db] [DRY_RUN=1]
	@test -n "$(ENV)" || { echo "usage: make deploy ENV=<environment> [SERVICE=<name>] [DRY_RUN=1] (DEPLOY_API_KEY set)"; exit 2; }
	$(BIN)/dotdo $(if $(SERVICE),deploy "$(SERVICE)",deploy-all) --env "$(ENV)" $(if $(DRY_RUN),--dry-run)

bench: bootstrap ## Run the benchmarks and print their figures
	$(BIN)/python benchmarks/dispatch.py
	$(BIN)/python benchmarks/auth_db.py
	$(BIN)/python benchmarks/gateway.py
	$(BIN)/python benchmarks/auth_hop.py
	$(BIN)/python benchmarks/cold_start.py
	$(BIN)/python benchmarks/pyodide_paths.py --write-docs
	$(BIN)/python benchmarks/http_paths.py --write-docs

mutate: bootstrap ## Mutation testing (cosmic-ray; not part of test): make mutate [TARGET=shared/errors.py]
	$(BIN)/python tooling/mutate.py $(TARGET)

clean: ## Remove .venv, node_modules and local state
	rm -rf $(VENV) node_modules .state
