# Attache — the two commands are `make run` and `make test`.
SHELL := /bin/bash
UV ?= uv
PYTEST := $(UV) run --frozen pytest

.PHONY: help install run token test bench lint format asyncapi seed

help:
	@echo "make run     start the whole stack locally (SeaweedFS + the four services)"
	@echo "make test    run every test (real PostgreSQL, RabbitMQ, SeaweedFS)"
	@echo "make token ORG=… SUB=… ROLES=admin,agent [CUSTOMER_ID=…] [TIER=free|pro]"
	@echo "make bench   benchmarks (ratios against in-run baselines), one JSON report"

install:
	@command -v $(UV) >/dev/null || python3 -m pip install --quiet uv
	@$(UV) sync --frozen --quiet

run: install
	$(UV) run --frozen python -m attache_devstack.run

ORG ?= org-demo
SUB ?= user-demo
ROLES ?= admin
TIER ?= free
token: install
	@$(UV) run --frozen python -m attache_devstack.token --org "$(ORG)" --sub "$(SUB)" \
		--roles "$(ROLES)" --tier "$(TIER)" $(if $(CUSTOMER_ID),--customer-id "$(CUSTOMER_ID)")

test: install
	$(PYTEST) -p no:cacheprovider

# The JSON report goes to stdout (progress to stderr): make bench > report.json
bench: install
	@$(UV) run --frozen python -m tests.bench

lint: install
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .

format: install
	$(UV) run --frozen ruff format .
	$(UV) run --frozen ruff check --fix .

asyncapi: install
	$(UV) run --frozen python -m attache_core.asyncapi > docs/asyncapi.json

# Synthetic attachments for the library API: make seed N=1000000 [ORG=org-demo]
N ?= 10000
seed: install
	@$(UV) run --frozen python -m attache_devstack.seed $(N) --org "$(ORG)" \
		--database-url "$${ATTACHE_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/attache}"
