#!/bin/sh
# A/B of two builds of lift on one database: `lift serve --demo` of each
# build in turn (one server at a time, the same database throughout), one
# loadgen scenario per turn, so that a change is measured against the
# build before it in the same minutes of a machine whose speed drifts.
#
#   bench/ab.sh A B [PAIRS]        A and B: git revisions (built from a clean
#                                  export of each) or lift binaries; PAIRS
#                                  pairs of turns (default 3), A first in odd
#                                  pairs and B first in even ones, so neither
#                                  always meets the smaller database
#   DB=postgres bench/ab.sh ...    on a throwaway PostgreSQL cluster (fsync on)
#   SCENARIO=predict|healthz|experiment (default experiment)
#   WORKERS=N (default 32)   RUN_SECONDS=S (default 8; 3 more of warm-up per turn)
#
# Each turn prints the build, ops/s (decide+reward pairs for experiment),
# p99, errors, and the CPU per request of the server and, on PostgreSQL,
# of PostgreSQL's processes (from /proc); then the median ops/s of each
# build.
set -eu
[ $# -ge 2 ] || { awk 'NR > 1 && !/^#/ { exit } NR > 1' "$0" >&2; exit 2; }
A=$1
B=$2
PAIRS=${3:-3}
DB=${DB:-sqlite}
SCENARIO=${SCENARIO:-experiment}
WORKERS=${WORKERS:-32}
SECS=${RUN_SECONDS:-8}
ADDR=127.0.0.1:18088
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/bench/lib.sh"
store "$DB"
positive PAIRS "$PAIRS"
positive WORKERS "$WORKERS"
seconds RUN_SECONDS "$SECS"
case $SCENARIO in
predict | healthz | experiment) ;;
*) echo "SCENARIO: \"$SCENARIO\" is not predict, healthz or experiment" >&2; exit 2 ;;
esac
for rev in "$A" "$B"; do
	if ! { [ -f "$rev" ] && [ -x "$rev" ]; } && ! git -C "$ROOT" rev-parse --verify -q "$rev^{commit}" > /dev/null; then
		echo "$rev is neither a lift binary nor a git revision" >&2
		exit 2
	fi
done
bench_setup "$DB" 55479

# build NAME REV-OR-BINARY: $TMP/NAME is that build of lift.
build() {
	if [ -f "$2" ] && [ -x "$2" ]; then
		cp "$2" "$TMP/$1"
		return
	fi
	echo "building $2 as $1" >&2
	mkdir "$TMP/src-$1"
	git -C "$ROOT" archive "$2" | tar -x -C "$TMP/src-$1"
	(cd "$TMP/src-$1" && CGO_ENABLED=0 go build -o "$TMP/$1" ./cmd/lift)
}
build a "$A"
build b "$B"
(cd "$ROOT" && CGO_ENABLED=0 go build -o "$TMP/loadgen" ./bench/loadgen)

# ticks PID...: CPU clock ticks of the processes.
ticks() {
	t=0
	for p in "$@"; do
		# With the children it has reaped: PostgreSQL's backends that end.
		t=$((t + $(awk '{print $14 + $15 + $16 + $17}' "/proc/$p/stat" 2>/dev/null || echo 0)))
	done
	echo $t
}
pgpids() {
	[ -n "$PGDIR" ] || return 0
	pm=$(head -1 "$PGDIR/data/postmaster.pid")
	echo "$pm $(pgrep -P "$pm" | tr '\n' ' ')"
}

# load SECONDS OUT: the scenario for SECONDS, its result in OUT. In the
# background, waited for: a signal's trap runs at once, not after it.
load() {
	"$TMP/loadgen" -url "http://$ADDR" -scenario "$SCENARIO" -c "$WORKERS" -d "${1}s" > "$2" &
	LG=$!
	wait $LG
	LG=
}

# turn NAME: serve build NAME, warm up, measure, stop.
turn() {
	bench_serve "$TMP/$1"
	curl -fsS -X POST "http://$ADDR/train/ctr-model" > /dev/null
	load 3 /dev/null
	l0=$(ticks $PID)
	p0=$(ticks $(pgpids))
	load "$SECS" "$TMP/run.json"
	l1=$(ticks $PID)
	p1=$(ticks $(pgpids))
	kill "$PID"
	wait "$PID" 2>/dev/null || true
	PID=
	python3 - "$1" "$TMP/run.json" $((l1 - l0)) $((p1 - p0)) "$(getconf CLK_TCK)" "$DB" <<-'PYEOF' | tee -a "$TMP/turns"
		import json, sys
		name, path, lift, pg, hz, db = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
		r = json.load(open(path))
		per = lambda t: t / hz * 1e6 / max(r["requests"], 1)
		pgcpu = f", PostgreSQL {per(pg):5.0f} us" if db == "postgres" else ""
		print(f"{name} {r['ops_per_s']:9.0f} ops/s  p99 {r['p99_ms']:6.2f} ms  errors {r['errors']}  CPU/req lift {per(lift):5.0f} us" + pgcpu)
	PYEOF
}

echo "$SCENARIO, $WORKERS workers, ${SECS}s per turn, $DB; a = $A, b = $B" >&2
for i in $(seq "$PAIRS"); do
	if [ $((i % 2)) = 1 ]; then
		turn a
		turn b
	else
		turn b
		turn a
	fi
done
python3 - "$TMP/turns" <<'PYEOF'
import statistics, sys
runs = {}
for l in open(sys.argv[1]):
    f = l.split()
    runs.setdefault(f[0], []).append(float(f[1]))
a, b = statistics.median(runs["a"]), statistics.median(runs["b"])
print(f"median ops/s: a {a:.0f}, b {b:.0f}, b/a = {b / a:.2f}")
PYEOF
