# Sourced by the benchmark scripts: which gateway binary they run, and the label their
# results carry, so that every figure names the code it measured.
#
#   BUILD=1 (default)  cargo builds the release binary (and the examples the script names in
#                      BENCH_EXAMPLES); cargo rebuilds whatever changed.
#   BUILD=0            the binary is used as it is, but refused when a source that goes into
#                      it (the crates' src/ and Cargo.toml, migrations/, Cargo.toml,
#                      Cargo.lock) is newer than it.
#   BIN=PATH BIN_LABEL=TEXT
#                      another binary (an older commit's, to compare): it is not checked
#                      against this tree, so its label must be given.
# After sourcing: BIN is the binary, BUILD_LABEL is "commit <short sha>" plus ", dirty" when
# the tree differs from that commit in those paths (uncommitted or untracked changes).

BINARY_SOURCES=('crates/*/src' 'crates/*/Cargo.toml' migrations Cargo.toml Cargo.lock)

bench_binary() {
  local root=$1 default=$1/target/release/auth-gateway
  BIN=${BIN:-$default}
  if [ "$BIN" != "$default" ]; then
    [ -n "${BIN_LABEL:-}" ] || { echo "BIN=$BIN is not this tree's build: give BIN_LABEL (its commit)" >&2; return 1; }
    [ -x "$BIN" ] || { echo "no gateway binary at $BIN" >&2; return 1; }
    BUILD_LABEL=$BIN_LABEL
    return 0
  fi
  if [ "${BUILD:-1}" = 1 ]; then
    local examples=()
    for e in ${BENCH_EXAMPLES:-}; do examples+=(--example "$e"); done
    (cd "$root" && cargo build --release -q -p gateway-server --bin auth-gateway "${examples[@]}") || return 1
  else
    [ -x "$BIN" ] || { echo "no gateway binary at $BIN (run with BUILD=1)" >&2; return 1; }
    local newer
    # shellcheck disable=SC2068  # (the globs expand in the tree)
    newer=$(cd "$root" && find ${BINARY_SOURCES[@]} -type f -newer "$BIN" -print -quit)
    [ -z "$newer" ] || { echo "$BIN is older than $newer: run with BUILD=1" >&2; return 1; }
  fi
  BUILD_LABEL="commit $(git -C "$root" rev-parse --short HEAD)"
  [ -z "$(git -C "$root" status --porcelain -- "${BINARY_SOURCES[@]}")" ] || BUILD_LABEL="$BUILD_LABEL, dirty"
}
