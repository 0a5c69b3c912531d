#!/bin/sh
# HTTP load benchmark: `lift serve --demo` on a throwaway SQLite database,
# driven by bench/loadgen (keep-alive workers, fixed duration) on three
# scenarios, with the ratios against GET /healthz measured in the same run.
#
#   bench/http.sh [SECONDS] [WORKERS]      (default 10 s per run; WORKERS, default 32, for
#                                          the warm-up and the experiment loop; run from
#                                          anywhere; ~4 minutes with the defaults)
#   DB=postgres bench/http.sh ...          the same on a throwaway PostgreSQL cluster
#                                          (scripts/pg-test-cluster.sh, fsync on; it writes
#                                          ~1 GB of WAL under a mktemp -d directory first)
#   ROUNDS=N bench/http.sh ...             N rounds of healthz/predict (default 3)
#   LEVELS="32 64 96" bench/http.sh ...    the concurrency levels of each round (default)
#   WARMUP=S bench/http.sh ...             S seconds of predict first, not counted (default 10)
#
# What the predict target asks is a capacity: the requests/s each
# endpoint sustains with p99 under 10 ms. A round runs healthz and
# predict in turns at each level of LEVELS; an endpoint's capacity in the
# round is its best requests/s at a level whose p99 is under 10 ms with
# no errors, and the round's ratio is predict's capacity over healthz's.
# The result is the median of the rounds' ratios: on a shared VM the
# speed of the machine drifts from one run to the next. healthz is bound
# by the CPU and gains little past 32 workers; predict waits for a disk
# sync, so at a fixed 32 workers it is bound by that wait, not by what
# the server can sustain. The ratio at the first level alone is printed
# too. Should healthz keep p99 under 10 ms at no level, its best
# requests/s at any level is the denominator (the larger one, so the
# ratio errs low). The target is met only if no run at any level had an
# error: an error under load is a bug, whatever the level.
#
# Besides requests/s and latency it prints the CPU time the server (and,
# on Postgres, the PostgreSQL processes) and the load generator spent per
# request, from /proc: a figure other work on the machine disturbs less;
# and how busy the machine's cores were during the run (a load whose
# requests wait, for a disk sync say, leaves them idle part of the time).
#
# Targets: predict >= 50% of healthz requests/s with p99 < 10 ms and no
# errors (both stores); >= 5,000 decide+reward pairs/s with p99 < 20 ms and no
# errors (SQLite; PostgreSQL has no target for it).
# The load generator runs on the same machine and takes CPU from the
# server; on few cores that matters (see docs/BENCHMARKS-http.md).
set -eu
SECS=${1:-10}
DB=${DB:-sqlite}
WORKERS=${2:-32}
ROUNDS=${ROUNDS:-3}
LEVELS=${LEVELS:-32 64 96}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/bench/lib.sh"
store "$DB"
seconds "SECONDS (the first argument)" "$SECS"
positive WORKERS "$WORKERS"
positive ROUNDS "$ROUNDS"
[ "${WARMUP:-10}" = 0 ] || positive WARMUP "${WARMUP:-10}"
seen=" "
for w in $LEVELS; do
	positive LEVELS "$w"
	case $seen in
	*" $w "*) echo "LEVELS: $w is given twice" >&2; exit 2 ;;
	esac
	seen="$seen$w "
done
[ "$seen" != " " ] || { echo "LEVELS: no worker count given" >&2; exit 2; }
ADDR=127.0.0.1:18089
bench_setup "$DB" 55480
echo "building bin/lift and loadgen" >&2
(cd "$ROOT" && CGO_ENABLED=0 go build -o bin/lift ./cmd/lift && CGO_ENABLED=0 go build -o "$TMP/loadgen" ./bench/loadgen)

echo "starting lift serve --demo on $ADDR ($DB)" >&2
bench_serve "$ROOT/bin/lift"

echo "training a model" >&2
curl -fsS -X POST "http://$ADDR/train/ctr-model" > "$TMP/train.json"
cat "$TMP/train.json" >&2

# cpu_ticks: CPU time (clock ticks) of the server, plus PostgreSQL's
# processes when it runs.
cpu_ticks() {
	pids="$PID"
	if [ -n "$PGDIR" ]; then
		pm=$(head -1 "$PGDIR/data/postmaster.pid")
		pids="$pids $pm $(pgrep -P "$pm" | tr '\n' ' ')"
	fi
	t=0
	for p in $pids; do
		t=$((t + $(awk '{print $14 + $15 + $16 + $17}' "/proc/$p/stat" 2>/dev/null || echo 0)))
	done
	echo $t
}
# run SCENARIO NAME [WORKERS]: one loadgen run, its result (with CPU per
# request) in $TMP/NAME.json.
run() {
	run_workers=${3:-$WORKERS}
	echo "loadgen $1 for ${SECS}s with $run_workers workers" >&2
	c0=$(cpu_ticks)
	s0=$(head -1 /proc/stat)
	"$TMP/loadgen" -url "http://$ADDR" -scenario "$1" -c "$run_workers" -d "${SECS}s" > "$TMP/$2.json" &
	LG=$!
	lg=0
	while kill -0 $LG 2>/dev/null; do
		lg=$(awk '{print $14 + $15}' "/proc/$LG/stat" 2>/dev/null || echo "$lg")
		sleep 0.2
	done
	wait $LG
	LG=
	c1=$(cpu_ticks)
	s1=$(head -1 /proc/stat)
	python3 - "$TMP/$2.json" $((c1 - c0)) "$lg" "$(getconf CLK_TCK)" "$s0" "$s1" <<'PYEOF'
import json, sys
path, server, lg, hz = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
r = json.load(open(path))
r["server_cpu_us_per_request"] = round(server / hz * 1e6 / max(r["requests"], 1), 1)
r["loadgen_cpu_us_per_request"] = round(lg / hz * 1e6 / max(r["requests"], 1), 1)
# The machine's busy share over the run, from /proc/stat's first line
# (user nice system idle iowait irq softirq steal): what is not idle or
# waiting for I/O. A run that leaves the cores idle sustains less than
# its CPU per request allows.
d = [int(b) - int(a) for a, b in zip(sys.argv[5].split()[1:9], sys.argv[6].split()[1:9])]
r["machine_busy_pct"] = round(100 - 100 * (d[3] + d[4]) / max(sum(d), 1))
json.dump(r, open(path, "w"))
print(json.dumps(r))
PYEOF
}
# A fresh database's WAL grows for the first seconds of writing, each
# growth one more metadata write in a sync; a server that has been up a
# while is past that, so a first predict run is not counted.
SECS_SAVED=$SECS
SECS=${WARMUP:-10}
run predict warmup
SECS=$SECS_SAVED
for r in $(seq "$ROUNDS"); do
	for w in $LEVELS; do
		run healthz "healthz-$r-$w" "$w"
		run predict "predict-$r-$w" "$w"
	done
done
run experiment experiment

python3 - "$TMP" "$ROUNDS" "$DB" $LEVELS <<'PYEOF'
import json, statistics, sys
d, rounds, db, levels = sys.argv[1], int(sys.argv[2]), sys.argv[3], [int(w) for w in sys.argv[4:]]
load = lambda n: json.load(open(f"{d}/{n}.json"))
e = load("experiment")
cpu = lambda r: f"  CPU/req server {r['server_cpu_us_per_request']:.0f} us, loadgen {r['loadgen_cpu_us_per_request']:.0f} us, busy {r['machine_busy_pct']}%"
line = lambda r: f"{r['requests_per_s']:9.0f} req/s  p50 {r['p50_ms']:.2f} ms  p99 {r['p99_ms']:.2f} ms  errors {r['errors']}" + cpu(r)
within = lambda r: r["p99_ms"] < 10 and r["errors"] == 0
share = lambda a, b: f"{a / b:.2f}" if b > 0 else "n/a"
ratios, firsts, errors = [], [], 0
for r in range(1, rounds + 1):
    cap, best = {}, {}
    for w in levels:
        h, p = load(f"healthz-{r}-{w}"), load(f"predict-{r}-{w}")
        errors += h["errors"] + p["errors"]
        print(f"round {r}, {w:3d} workers: healthz {line(h)}")
        print(f"                    predict {line(p)}   ratio {share(p['requests_per_s'], h['requests_per_s'])}")
        for name, x in (("healthz", h), ("predict", p)):
            if x["requests_per_s"] > best.get(name, (0, 0))[0]:
                best[name] = (x["requests_per_s"], w)
            if within(x) and x["requests_per_s"] > cap.get(name, (0, 0))[0]:
                cap[name] = (x["requests_per_s"], w)
    h0, p0 = load(f"healthz-{r}-{levels[0]}"), load(f"predict-{r}-{levels[0]}")
    if h0["requests_per_s"] > 0:
        firsts.append(p0["requests_per_s"] / h0["requests_per_s"])
    missing = [n for n in ("healthz", "predict") if n not in cap]
    if missing:
        print(f"  round {r}: no level kept p99 under 10 ms with no errors for {' and '.join(missing)}")
    hnote = ""
    if "healthz" not in cap and "healthz" in best:
        cap["healthz"] = best["healthz"]  # the larger denominator: the ratio errs low
        hnote = ", its best at any level"
    if "predict" in cap and cap.get("healthz", (0, 0))[0] > 0:
        ratios.append(cap["predict"][0] / cap["healthz"][0])
        print(f"  round {r} capacity (p99 < 10 ms, no errors): healthz {cap['healthz'][0]:.0f} req/s ({cap['healthz'][1]} workers{hnote}), "
              f"predict {cap['predict'][0]:.0f} ({cap['predict'][1]} workers): predict/healthz = {ratios[-1]:.2f}")
    else:
        ratios.append(0.0)
ratio = statistics.median(ratios)
ok1 = ratio >= 0.5 and errors == 0
ok2 = e["ops_per_s"] >= 5000 and e["p99_ms"] < 20 and e["errors"] == 0
if firsts:
    print(f"predict/healthz at {levels[0]} workers = {statistics.median(firsts):.2f} (median of {len(firsts)}; {min(firsts):.2f}-{max(firsts):.2f})")
print(f"predict/healthz capacity = {ratio:.3f} (median of {rounds}; {min(ratios):.2f}-{max(ratios):.2f}), {errors} errors in all runs"
      f"  (target >= 0.50 with p99 < 10 ms, 0 errors: {'met' if ok1 else 'MISSED'})")
print(f"experiment  {e['ops_per_s']:9.0f} decide+reward/s ({e['requests_per_s']:.0f} req/s)  p50 {e['p50_ms']:.2f} ms  p99 {e['p99_ms']:.2f} ms  errors {e['errors']}" + cpu(e))
if db == "sqlite":
    print(f"decisions/s = {e['ops_per_s']:.0f}  (target >= 5000, p99 < 20 ms, 0 errors: {'met' if ok2 else 'MISSED'})")
else:  # the 5,000/s target is SQLite's; PostgreSQL has none
    print(f"decisions/s = {e['ops_per_s']:.0f}  (no target on {db}; SQLite's is >= 5000, p99 < 20 ms)")
PYEOF
