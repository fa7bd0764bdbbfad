#!/usr/bin/env bash
# Runs the Rust criterion bench and the JS baseline (npm odata-v4-parser) on the longest
# seed query and prints both figures and the speed-up. Usage: benches/compare.sh [name]
set -euo pipefail
cd "$(dirname "$0")/.."
name="${1:-long}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/work/target-parser}"

# Median estimate from criterion's "time: [low mid high]" line, in ns.
rust_ns=$(cargo bench --quiet --bench parse -- --warm-up-time 2 --measurement-time 5 "parse_target/$name\$" 2>/dev/null \
  | grep -A1 "parse_target/$name" | grep -o 'time: *\[[^]]*\]' \
  | awk '{ v=$4; u=$5; f=(u=="ns")?1:(u=="µs"||u=="us")?1000:(u=="ms")?1000000:(u=="ps")?0.001:1; printf "%.1f", v*f }')

(cd benches/js && [ -d node_modules ] || npm install --silent --no-audit --no-fund >/dev/null)
js_ns=$(node benches/js/bench.js "$name" | awk '{ print $2 }')

echo "rust: ${rust_ns} ns/op"
echo "js:   ${js_ns} ns/op (odata-v4-parser)"
awk -v r="$rust_ns" -v j="$js_ns" 'BEGIN { printf "ratio: %.1fx faster\n", j / r }'
