#!/usr/bin/env bash
# bench/run.sh (make bench): run every benchmark and assemble
# docs/benchmarks.md from their parts (docs/benchmarks-*.part).  The machine
# is shared and noisy: every benchmark compares variants side by side in one
# run and reports ratios.  BENCH=reports,gateway,... runs a subset (the other
# parts are kept from earlier runs).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SELECTED=${BENCH:-all}
for script in "$ROOT"/bench/*.sh; do
	name=$(basename "$script" .sh)
	[ "$name" = run ] && continue
	if [ "$SELECTED" = all ] || [[ ",$SELECTED," == *",$name,"* ]]; then
		echo "== bench $name"
		bash "$script"
	fi
done
{
	echo "# Benchmarks"
	echo
	echo "Made by \`make bench\` (bench/run.sh), which runs every bench/*.sh and"
	echo "assembles this page; each section names the command that produced it."
	echo "The machine is shared (2 cores): read ratios measured side by side, not"
	echo "absolute numbers."
	echo
	for part in "$ROOT"/docs/benchmarks-*.part; do
		[ -f "$part" ] || continue
		cat "$part"
		echo
	done
} >"$ROOT/docs/benchmarks.md"
echo "wrote docs/benchmarks.md"
