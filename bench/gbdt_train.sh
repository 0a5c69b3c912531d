#!/bin/sh
# Side-by-side training benchmark: XGBoost 1.7 (Debian python3-xgboost, hist,
# max_bin 256, nthread 2, OMP_WAIT_POLICY=PASSIVE) and `lift gbdt train` on the
# same files with the same parameters, in one run, printing train wall time,
# test AUC, peak RSS and the lift/XGBoost ratios.
#
#   bench/gbdt_train.sh                 Higgs subset, configs A, B, C
#   SYNTH=1 bench/gbdt_train.sh         also the 1M x 28 synthetic set (A, B, C)
#   CFGS="A C" THREADS=2 DATA=/path WORK=/tmp/dir bench/gbdt_train.sh
#
# "train s" is the time of training alone, data already in memory: xgb.train
# (which includes XGBoost's quantile sketch) and lift's train_seconds (which
# includes lift's). Peak RSS is of the whole process, reading included.
set -eu
cd "$(dirname "$0")/.."
PY=${PYTHON:-/usr/bin/python3}
THREADS=${THREADS:-2}
DATA=${DATA:-/work/shared/data}
[ -f "$DATA/higgs_lgbm_binary.train.tsv.gz" ] || DATA=gbdt/testdata
WORK=${WORK:-$(mktemp -d)}
export OMP_WAIT_POLICY=PASSIVE

if ! "$PY" -c 'import xgboost' 2>/dev/null; then
	echo "gbdt_train.sh: $PY cannot import xgboost (apt-get install python3-xgboost)" >&2
	exit 1
fi
CGO_ENABLED=0 go build -o "$WORK/lift" ./cmd/lift

cat >"$WORK/xgb_train.py" <<'PYEOF'
import gzip, json, sys, time
import numpy as np
import xgboost as xgb

def load(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    ncol = raw[: raw.index(b"\n")].count(b"\t") + 1
    a = np.fromstring(raw.replace(b"\n", b"\t").decode(), dtype=np.float32, sep="\t")
    a = a.reshape(-1, ncol)
    return a[:, 1:], a[:, 0]

train, valid, obj, eta, depth, rounds, metrics, threads = sys.argv[1:9]
x, y = load(train)
vx, vy = load(valid)
dtrain = xgb.DMatrix(x, label=y, nthread=int(threads))
dvalid = xgb.DMatrix(vx, label=vy, nthread=int(threads))
params = {"objective": obj, "eta": float(eta), "max_depth": int(depth), "tree_method": "hist",
          "max_bin": 256, "nthread": int(threads), "eval_metric": metrics.split(",")}
hist = {}
t0 = time.perf_counter()
xgb.train(params, dtrain, num_boost_round=int(rounds), evals=[(dvalid, "valid")], evals_result=hist, verbose_eval=False)
secs = time.perf_counter() - t0
print(json.dumps({"train_seconds": secs, "auc": hist["valid"]["auc"][-1]}))
PYEOF

# rss_kb CMD...: run CMD, stdout to $WORK/out, print its peak RSS in kB.
rss_kb() {
	if [ -x /usr/bin/time ]; then
		/usr/bin/time -v "$@" >"$WORK/out" 2>"$WORK/err" || { cat "$WORK/err" >&2; exit 1; }
		sed -n 's/.*Maximum resident set size (kbytes): //p' "$WORK/err"
	else
		"$PY" -c 'import resource, subprocess, sys
with open(sys.argv[1], "w") as out:
    subprocess.run(sys.argv[2:], stdout=out, check=True)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)' "$WORK/out" "$@"
	fi
}
field() { "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {}, d))' "$WORK/out" "$1"; }

run() { # name train valid cfg
	name=$1 train=$2 valid=$3 cfg=$4
	case $cfg in
	A) obj=binary:logistic eta=0.1 depth=6 rounds=100 metrics=logloss,auc ;;
	B) obj=binary:logistic eta=0.1 depth=6 rounds=500 metrics=logloss,auc ;;
	C) obj=reg:squarederror eta=0.1 depth=4 rounds=100 metrics=rmse,auc ;;
	esac
	xrss=$(rss_kb "$PY" "$WORK/xgb_train.py" "$train" "$valid" $obj $eta $depth $rounds $metrics "$THREADS")
	xs=$(field train_seconds) xauc=$(field auc)
	lrss=$(rss_kb "$WORK/lift" gbdt train --data "$train" --valid "$valid" --label 0 --out "$WORK/model.json" \
		--objective $obj --eta $eta --max-depth $depth --rounds $rounds --eval-metric $metrics --threads "$THREADS" --max-bin 256)
	ls=$(field train_seconds) lauc=$(field 'metrics["valid"]["auc"]')
	"$PY" -c 'import sys
n, c, xs, ls, xa, la, xr, lr = sys.argv[1:]
xs, ls, xa, la, xr, lr = map(float, (xs, ls, xa, la, xr, lr))
print(f"| {n} | {c} | {xs:.2f} | {ls:.2f} | **{ls/xs:.2f}** | {xa:.4f} | {la:.4f} | {xr/1024:.0f} | {lr/1024:.0f} | **{lr/xr:.2f}** |")' \
		"$name" "$cfg" "$xs" "$ls" "$xauc" "$lauc" "$xrss" "$lrss"
}

echo "threads=$THREADS  $(nproc) CPUs  $(date -u +%Y-%m-%dT%H:%MZ)  xgboost $("$PY" -c 'import xgboost; print(xgboost.__version__)')"
echo
echo "| data | cfg | XGBoost train s | lift train s | lift/XGB time | XGBoost AUC | lift AUC | XGBoost RSS MB | lift RSS MB | lift/XGB RSS |"
echo "|---|---|---|---|---|---|---|---|---|---|"
CFGS=${CFGS:-A B C}
for cfg in $CFGS; do
	run higgs "$DATA/higgs_lgbm_binary.train.tsv.gz" "$DATA/higgs_lgbm_binary.test.tsv.gz" $cfg
done
if [ "${SYNTH:-0}" = 1 ]; then
	if [ ! -f "$WORK/synth_train.tsv" ]; then
		go run ./bench/synth -rows 1000000 -seed 1 -out "$WORK/synth_train.tsv"
		go run ./bench/synth -rows 100000 -seed 2 -out "$WORK/synth_test.tsv"
	fi
	for cfg in $CFGS; do
		run synth-1M "$WORK/synth_train.tsv" "$WORK/synth_test.tsv" $cfg
	done
fi
