# The two commands a newcomer needs: `make run` and `make test`.
SHELL := /bin/bash
# PostgreSQL tests run when TEST_DATABASE_URL is set, or when a local server answers.
ifeq ($(origin TEST_DATABASE_URL), undefined)
  ifeq ($(shell pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null && echo up),up)
    export TEST_DATABASE_URL := postgres://postgres@127.0.0.1:5432/test
  endif
endif

# A test that cannot run here (no PostgreSQL, no nginx) appends a line to this file, and the
# test targets list it at their end (tests/skipped.sh); under CI (CI set) it fails instead.
export TEST_SKIP_LOG ?= $(CURDIR)/target/skipped-tests.txt
# $(call skip_summary,COMMAND): COMMAND, then what it skipped. Within `make test` the
# parts leave that to the whole (SKIP_SUMMARY=no).
skip_summary = $(if $(filter no,$(SKIP_SUMMARY)),$(1),bash tests/skipped.sh $(1))

# Rust tests: nextest when installed. TEST_ARGS: test name filters and libtest flags, e.g.
# TEST_ARGS='logs:: --skip postgres'.
RUST_TESTS = $(if $(shell command -v cargo-nextest),cargo nextest run,cargo test) --workspace --no-fail-fast \
  $(if $(TEST_ARGS),-- $(TEST_ARGS))

.PHONY: run test test-rust test-clients bench fmt lint openapi typescript compose-up fuzz schemathesis

## Start the gateway on http://127.0.0.1:3000 (SQLite in ./data, nothing else needed).
run:
	cargo run --release -p gateway-server --bin auth-gateway -- serve

## The whole test suite: Rust, then the Node clients (even if Rust failed), each on SQLite
## and on PostgreSQL (when TEST_DATABASE_URL is set); at the end, every test skipped and why.
test:
	@bash tests/skipped.sh $(MAKE) --no-print-directory --keep-going test-rust test-clients SKIP_SUMMARY=no

test-rust:
	@echo "PostgreSQL: $${TEST_DATABASE_URL:-none (TEST_DATABASE_URL unset): its cases are skipped}"
	$(call skip_summary,$(RUST_TESTS))

## The Node clients on TEST_BACKEND (sqlite or postgres), or unset, on both.
test-clients:
	cargo build -p gateway-server --bin auth-gateway
	$(call skip_summary,bash tests/clients/run.sh)

bench:
	bash bench/run.sh
	bash bench/forward.sh
	bash bench/metrics.sh

fmt:
	cargo fmt --all

lint:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings

## Regenerate what the procedure registry describes: schemas/openapi.json and the
## TypeScript router (clients/typescript/router.ts).
openapi: typescript
	cargo run -q -p gateway-server --bin auth-gateway -- openapi > schemas/openapi.json

## Regenerate clients/typescript/router.ts (the AppRouter type for tRPC clients).
typescript:
	cargo run -q -p gateway-server --bin auth-gateway -- typescript > clients/typescript/router.ts

compose-up:
	docker compose up --build

## Fuzz each decoder for FUZZ_SECONDS (default 60) with cargo-fuzz.
fuzz:
	bash fuzz/run.sh $(or $(FUZZ_SECONDS),60)

## Schema-driven tests of the REST surface against the live OpenAPI document, the gateways
## on TEST_BACKEND (sqlite, the default, or postgres).
schemathesis:
	cargo build -p gateway-server --bin auth-gateway
	bash tests/schemathesis/run.sh
