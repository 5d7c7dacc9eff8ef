# chengguan — the two commands that matter:
#   make run    install what is missing, migrate, load the demo city once, serve on http://$(HOST):$(PORT)
#   make test   install what is missing (apt, PostgreSQL, .venv, npm), lint, type-check, pytest on SQLite + PostgreSQL
#               (the two passes at the same time, on pytest-xdist workers when CPUs allow; docs/development.md)
# The work is done by scripts/*.sh so it can be read and run without make.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

HOST ?= 127.0.0.1
PORT ?= 8000
export HOST PORT

.PHONY: help run test install system-deps lint fmt test-sqlite test-postgres migrate seed clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{ printf "  make %-14s %s\n", $$1, $$2 }'

run: ## install, migrate, seed the demo city once, serve (HOST/PORT overridable)
	@bash scripts/run.sh

test: ## install everything, then ruff, mypy, lint-imports and pytest on SQLite and PostgreSQL
	@bash scripts/test.sh

install: ## .venv + pip install -e '.[dev]' + npm ci (no system packages)
	@bash scripts/bootstrap.sh

system-deps: ## apt packages (PostGIS, Chromium, CJK fonts) and a running PostgreSQL
	@bash scripts/system-deps.sh

lint: ## ruff check, ruff format --check, mypy, lint-imports
	@SKIP_SYSTEM=1 STEPS="ruff format mypy imports" bash scripts/test.sh

fmt: install ## apply ruff's fixes and formatting
	@.venv/bin/ruff check --fix $(wildcard src tests bench)
	@.venv/bin/ruff format $(wildcard src tests bench)

test-sqlite: ## pytest on SQLite only (PYTEST_ARGS="tests/unit -x" narrows it, PYTEST_WORKERS=1 drops xdist)
	@SKIP_SYSTEM=1 STEPS=sqlite bash scripts/test.sh

test-postgres: ## pytest on PostgreSQL + PostGIS only (starts PostgreSQL when down)
	@STEPS=postgres bash scripts/test.sh

migrate: install ## chengguan migrate (the database of .env / CHENGGUAN_DATABASE_URL)
	@.venv/bin/chengguan migrate

seed: install ## chengguan seed-demo --if-empty
	@.venv/bin/chengguan seed-demo --if-empty

clean: ## remove caches and test logs (keeps .venv, node_modules and var/)
	rm -rf artifacts .mypy_cache .ruff_cache .pytest_cache
	find src tests -name __pycache__ -type d -prune -exec rm -rf {} +
