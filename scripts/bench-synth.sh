#!/usr/bin/env bash
# bench-synth: warm `npx cdk synth -q` of this Go app against the TypeScript
# twin (../shared/anchors/ts-twin, the same stack written with cdk init's
# setup), side by side on this machine. It prints both medians and the ratio
# Go/TypeScript; it asserts nothing.
#
# The two commands alternate (Go, twin, Go, twin, ...) after one unmeasured
# warm-up run of each, so a drift in the machine's speed hits both alike.
# Each run is timed whole, from the CLI's start to its exit.
#
#   RUNS=7 scripts/bench-synth.sh          # runs of each (default 5)
#   TWIN_DIR=/path/to/ts-twin              # the twin (default ../shared/anchors/ts-twin)
#   BENCH_SYNTH_DIR=/tmp/x                 # where the twin is copied and npm ci'd
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
runs=${RUNS:-5}
twin_src=${TWIN_DIR:-$root/../shared/anchors/ts-twin}
work=${BENCH_SYNTH_DIR:-${TMPDIR:-/tmp}/wsapi-bench-synth}

export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=${JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION:-20}
export CDK_DISABLE_CLI_TELEMETRY=${CDK_DISABLE_CLI_TELEMETRY:-true}

if [ ! -f "$twin_src/cdk.json" ] || [ ! -f "$twin_src/package-lock.json" ]; then
	echo "bench-synth: the TypeScript twin is missing: no cdk.json and package-lock.json in $twin_src" >&2
	echo "bench-synth: it is expected at ../shared/anchors/ts-twin next to the repository; set TWIN_DIR to its path" >&2
	exit 2
fi
case $runs in '' | *[!0-9]* | 0) echo "bench-synth: RUNS must be a positive number, not '$runs'" >&2; exit 2 ;; esac

# The twin's directory may be read-only: run a copy. node_modules is kept
# across calls and reinstalled only when the lock file changes.
twin=$work/ts-twin
mkdir -p "$twin"
find "$twin" -mindepth 1 -maxdepth 1 ! -name node_modules -exec rm -rf {} +
(cd "$twin_src" && tar -c --exclude=./node_modules --exclude=./cdk.out .) | tar -x -C "$twin"
if ! cmp -s "$twin/package-lock.json" "$twin/node_modules/.bench-synth-lock" 2>/dev/null; then
	echo "bench-synth: npm ci in $twin"
	(cd "$twin" && rm -rf node_modules && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
	cp "$twin/package-lock.json" "$twin/node_modules/.bench-synth-lock"
fi

# The Go app writes to an assembly directory of its own, kept across the
# runs like the twin's cdk.out, so nobody's cdk.out is touched.
go_out=$work/go.cdk.out
log=$work/last-run.log

# run NAME DIR CMD...: one timed run; its seconds are appended to $work/NAME.times.
run() {
	local name=$1 dir=$2 start end
	shift 2
	start=$(date +%s%N)
	if ! (cd "$dir" && "$@") >"$log" 2>&1; then
		echo "bench-synth: $name failed ($*), its output:" >&2
		cat "$log" >&2
		exit 1
	fi
	end=$(date +%s%N)
	if [ -n "${record:-}" ]; then
		echo "$(( (end - start) / 1000000 ))" >>"$work/$name.times"
		printf '  %-3s %6.2f s\n' "$name" "$(( (end - start) / 1000000 ))e-3"
	fi
}
go_synth() { run go "$root" npx cdk synth -q -o "$go_out"; }
ts_synth() { run ts "$twin" npx cdk synth -q; }

rm -f "$work/go.times" "$work/ts.times"
echo "bench-synth: load before: $(uptime | sed 's/.*load average/load average/') ($(nproc) cores)"
echo "bench-synth: warm-up (not measured): one run of each"
record='' go_synth
record='' ts_synth
echo "bench-synth: $runs runs of each, alternating: go = npx cdk synth -q here, ts = the same in the twin's copy"
for _ in $(seq "$runs"); do
	record=1 go_synth
	record=1 ts_synth
done
echo "bench-synth: load after: $(uptime | sed 's/.*load average/load average/')"

median() { sort -n "$1" | awk '{ a[NR] = $1 } END { m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2; printf "%.3f", m / 1000 }'; }
go_med=$(median "$work/go.times")
ts_med=$(median "$work/ts.times")
echo "median go: ${go_med} s"
echo "median ts: ${ts_med} s"
awk -v g="$go_med" -v t="$ts_med" 'BEGIN { printf "ratio go/ts: %.2f\n", g / t }'
