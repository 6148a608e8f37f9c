#!/usr/bin/env bash
# End-to-end tests with the real Node clients (tRPC v10 and v11, openapi-fetch).
# Needs target/debug/auth-gateway (cargo build -p gateway-server) and schemas/openapi.json.
#
# TEST_BACKEND=sqlite or postgres runs the suite with the gateways on that store (postgres:
# a fresh database per test file on the TEST_DATABASE_URL server); unset, it runs once on
# each, PostgreSQL skipped (skip.mjs: a failure under CI) without TEST_DATABASE_URL.
# dokploy.test.mjs needs TEST_DATABASE_URL on both: Dokploy's own database is PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")"
backends=${TEST_BACKEND:-sqlite postgres}
for b in $backends; do
  case $b in
    sqlite) ;;
    postgres)
      if [ -n "${TEST_BACKEND:-}" ] && [ -z "${TEST_DATABASE_URL:-}" ]; then
        echo "TEST_BACKEND=postgres needs TEST_DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/test)" >&2
        exit 2
      fi ;;
    *) echo "TEST_BACKEND is '$TEST_BACKEND': sqlite or postgres (or unset, for both)" >&2; exit 2 ;;
  esac
done
npm ci --no-audit --no-fund
# The TypeScript package's identity helper (the forwarding tests' upstream uses it) brings
# its own dependencies, as it would installed anywhere else.
npm ci --no-audit --no-fund --prefix ../../clients/typescript
npm run gen
npm run build
rc=0
for b in $backends; do
  name=$([ "$b" = sqlite ] && echo SQLite || echo PostgreSQL)
  if [ "$b" = postgres ] && [ -z "${TEST_DATABASE_URL:-}" ]; then
    node skip.mjs "Node clients on PostgreSQL" "TEST_DATABASE_URL is not set, so there is no PostgreSQL to test on"
    continue
  fi
  echo "=== Node clients on $name"
  TEST_BACKEND=$b npm run test:run || rc=1
done
exit $rc
