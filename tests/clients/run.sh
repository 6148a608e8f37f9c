#!/usr/bin/env bash
# End-to-end tests with the real Node clients (tRPC v10 and v11, openapi-fetch).
# Needs target/debug/auth-gateway (cargo build -p gateway-server) and schemas/openapi.json.
# With TEST_DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/test) each test file
# gets a fresh PostgreSQL database on that server; otherwise SQLite in a temp data dir.
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund
# The TypeScript package's identity helper (the forwarding tests' upstream uses it) brings
# its own dependencies, as it would installed anywhere else.
npm ci --no-audit --no-fund --prefix ../../clients/typescript
npm test
