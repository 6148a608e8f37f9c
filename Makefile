# The two commands a newcomer needs: `make run` and `make test`.
SHELL := /bin/bash
# PostgreSQL tests run when TEST_DATABASE_URL is set, or when a local server answers.
ifeq ($(origin TEST_DATABASE_URL), undefined)
  ifeq ($(shell pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null && echo up),up)
    export TEST_DATABASE_URL := postgres://postgres@127.0.0.1:5432/test
  endif
endif

.PHONY: run test test-rust test-clients bench fmt lint openapi typescript compose-up fuzz schemathesis

## Start the gateway on http://127.0.0.1:3000 (SQLite in ./data, nothing else needed).
run:
	cargo run --release -p gateway-server --bin auth-gateway -- serve

## The whole test suite: Rust (SQLite, and PostgreSQL when TEST_DATABASE_URL is set) and the Node clients.
test: test-rust test-clients

test-rust:
	@echo "PostgreSQL tests: $${TEST_DATABASE_URL:-skipped (TEST_DATABASE_URL unset)}"
	if command -v cargo-nextest >/dev/null; then cargo nextest run --workspace --no-fail-fast; \
	else cargo test --workspace --no-fail-fast; fi

test-clients:
	cargo build -p gateway-server --bin auth-gateway
	bash tests/clients/run.sh

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

## Schema-driven tests of the REST surface against the live OpenAPI document.
schemathesis:
	cargo build -p gateway-server --bin auth-gateway
	bash tests/schemathesis/run.sh
