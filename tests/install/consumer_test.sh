#!/usr/bin/env bash
# Installs a build tree of REDS into a temporary prefix, then builds tests/install/consumer against that
# prefix both ways a user would (find_package(reds CONFIG) and pkg-config reds), runs both programs and
# checks what they print. Fails if a header, a library, the CMake package or the pkg-config file is missing
# or broken.
# Usage: consumer_test.sh BUILD_DIR CONSUMER_SOURCE_DIR CXX_COMPILER CMAKE_GENERATOR MAKE_PROGRAM VERSION
set -euo pipefail

build_dir=$1 consumer_dir=$2 cxx=$3 generator=$4 make_program=$5 version=$6
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix

fail() {
  echo "consumer_test: $*" >&2
  exit 1
}

cmake --install "$build_dir" --prefix "$prefix" >"$work/install.log" || {
  cat "$work/install.log"
  fail "cmake --install failed"
}

# Line by line what main.cpp prints: the two levels keep the 2 and 3 most important units of fc1 (6 MACs
# each) and the whole head; the knapsack optimum takes the items of weight 4 and 3.
expected="level optimal macs 12 widths 2 2
level optimal macs 18 widths 3 2
knapsack optimal profit 90
version $version"

check_output() {
  local form=$1 program=$2 output
  output=$("$program") || fail "the $form consumer exited with $?"
  if [[ "$output" != "$expected" ]]; then
    diff <(echo "$expected") <(echo "$output") >&2 || true
    fail "the $form consumer printed something else (diff: expected, printed)"
  fi
  echo "consumer_test: the $form consumer built against the installed tree and printed what it should"
}

# CMake: only the temporary prefix may provide the package (no user or system package registry).
cmake -S "$consumer_dir" -B "$work/cmake-build" -G "$generator" -DCMAKE_MAKE_PROGRAM="$make_program" \
  -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF \
  >"$work/configure.log" 2>&1 || {
  cat "$work/configure.log"
  fail "configuring the consumer with find_package(reds CONFIG) failed"
}
reds_dir=$(sed -n 's/^reds_DIR:PATH=//p' "$work/cmake-build/CMakeCache.txt")
[[ "$reds_dir" == "$prefix"/* ]] || fail "find_package(reds) found $reds_dir, not the package under $prefix"
cmake --build "$work/cmake-build" >"$work/build.log" 2>&1 || {
  cat "$work/build.log"
  fail "building the consumer with find_package(reds CONFIG) failed"
}
check_output "find_package(reds)" "$work/cmake-build/reds_consumer"

# pkg-config: the .pc file lies under the prefix's library directory (lib, or lib/<multiarch> for /usr).
reds_pc=$(find "$prefix" -name reds.pc -path '*/pkgconfig/*' | head -n 1)
[[ -n "$reds_pc" ]] || fail "no reds.pc under $prefix"
export PKG_CONFIG_PATH=${reds_pc%/*}
libdir=$(pkg-config --variable=libdir reds) || fail "pkg-config does not read $reds_pc"
[[ "$(realpath "$libdir")" == "$(realpath "$prefix")"/* ]] ||
  fail "reds.pc names $libdir, not a folder under $prefix"
# shellcheck disable=SC2046  # pkg-config's flags are words
"$cxx" -std=c++20 -O1 "$consumer_dir/main.cpp" -o "$work/pkg-config-consumer" \
  $(pkg-config --cflags --libs reds) || fail "building the consumer with pkg-config reds failed"
check_output "pkg-config reds" "$work/pkg-config-consumer"
