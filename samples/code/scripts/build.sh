#!/usr/bin/env bash
# build.sh - build, test and package the sample projects in this tree.
#
# Usage: scripts/build.sh [--release] [--skip-tests] [--out DIR]
#
# Each language is built only if its toolchain is on PATH, so the script
# degrades gracefully on machines with a partial setup.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$ROOT/build"
RELEASE=0
RUN_TESTS=1

log()  { printf '\033[1;34m==>\033[0m %s\n' "$*"; }
warn() { printf '\033[1;33mwarn:\033[0m %s\n' "$*" >&2; }
die()  { printf '\033[1;31merror:\033[0m %s\n' "$*" >&2; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --release)    RELEASE=1 ;;
    --skip-tests) RUN_TESTS=0 ;;
    --out)        shift; [[ $# -gt 0 ]] || die "--out needs a directory"; OUT="$1" ;;
    -h|--help)    sed -n '2,7p' "$0"; exit 0 ;;
    *)            die "unknown option: $1" ;;
  esac
  shift
done

mkdir -p "$OUT"
CXXFLAGS="-std=c++17 -Wall -Wextra"
if [[ $RELEASE -eq 1 ]]; then CXXFLAGS+=" -O2 -DNDEBUG"; else CXXFLAGS+=" -O0 -g"; fi

build_cpp() {
  have g++ || { warn "g++ not found, skipping C++"; return; }
  log "C++: matrix"
  g++ $CXXFLAGS "$ROOT/cpp/matrix.cpp" -o "$OUT/matrix"
  [[ $RUN_TESTS -eq 1 ]] && "$OUT/matrix" >/dev/null
}

build_go() {
  have go || { warn "go not found, skipping Go"; return; }
  log "Go: wordcount"
  (cd "$ROOT/go/wordcount" && go build -o "$OUT/wordcount" .)
}

build_java() {
  have javac || { warn "javac not found, skipping Java"; return; }
  log "Java: Graph"
  javac -d "$OUT/classes" "$ROOT/java/Graph.java"
  [[ $RUN_TESTS -eq 1 ]] && java -cp "$OUT/classes" Graph >/dev/null
}

test_python() {
  have python3 || { warn "python3 not found, skipping Python"; return; }
  [[ $RUN_TESTS -eq 1 ]] || return 0
  log "Python: doctests"
  for f in "$ROOT"/python/*.py; do
    python3 -m doctest "$f" || die "doctest failed in $f"
  done
}

START=$(date +%s)
build_cpp
build_go
build_java
test_python

if [[ $RELEASE -eq 1 ]]; then
  log "packaging"
  tar -C "$OUT" -czf "$OUT/samples-$(date +%Y%m%d).tar.gz" --exclude='*.tar.gz' .
fi

log "done in $(( $(date +%s) - START ))s, artifacts in $OUT"
