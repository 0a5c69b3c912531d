#!/bin/sh
# Side-by-side prediction benchmark: XGBoost 1.7 (Debian python3-xgboost,
# /usr/bin/python3) against `lift gbdt bench`, on the same model and rows, in
# one run so the ratios are fair on a shared machine.
#
#   bench/gbdt_predict.sh [ROWS]     (default 100000 rows; run from the repo root)
#
# The model is XGBoost's own: 100 trees of depth 6 trained on the Higgs subset
# (shared/data, config A of shared/BENCHMARKS.md). Both sides predict margins
# with one thread. XGBoost's single-row figure is the C API call
# XGBoosterPredictFromDense through ctypes (what inplace_predict uses);
# its batch figure is Booster.predict on a fresh DMatrix.
set -eu
ROWS=${1:-100000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DATA=${LIFT_SHARED_DATA:-$ROOT/../shared/data}
PY=${PYTHON:-/usr/bin/python3}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
export OMP_WAIT_POLICY=PASSIVE

echo "building lift" >&2
(cd "$ROOT" && CGO_ENABLED=0 go build -o "$TMP/lift" ./cmd/lift)

echo "training and timing XGBoost ($ROWS rows)" >&2
"$PY" "$ROOT/bench/gbdt_predict_xgb.py" "$DATA" "$TMP" "$ROWS" > "$TMP/xgb.json"

echo "checking lift's margins against XGBoost's" >&2
"$TMP/lift" gbdt predict --margin --model "$TMP/model.json" --data "$TMP/rows.tsv" --threads 1 > "$TMP/lift_margin.txt"

echo "timing lift" >&2
"$TMP/lift" gbdt bench --model "$TMP/model.json" --data "$TMP/rows.tsv" --threads 1 --seconds 3 > "$TMP/lift.json"

"$PY" - "$TMP" <<'PYEOF'
import json, sys
import numpy as np
d = sys.argv[1]
x = json.load(open(d + "/xgb.json"))
l = json.load(open(d + "/lift.json"))
xm = np.fromfile(d + "/xgb_margin.f32", dtype=np.float32)
lm = np.loadtxt(d + "/lift_margin.txt", dtype=np.float64).astype(np.float32)
print(json.dumps({
    "rows": x["rows"], "trees": l["trees"], "xgboost": x["xgboost"],
    "margins_bit_identical": int((xm.view(np.uint32) == lm.view(np.uint32)).sum()),
    "max_abs_margin_diff": float(np.abs(xm.astype(np.float64) - lm).max()),
    "xgb_single_row_ns_p50": x["single_row_ns_p50"], "xgb_single_row_ns_p99": x["single_row_ns_p99"],
    "lift_single_row_ns_p50": l["single_row_ns_p50"], "lift_single_row_ns_p99": l["single_row_ns_p99"],
    "single_row_speedup_p50": x["single_row_ns_p50"] / l["single_row_ns_p50"],
    "single_row_speedup_p99": x["single_row_ns_p99"] / l["single_row_ns_p99"],
    "xgb_batch_rows_per_sec_1thread": x["batch_rows_per_sec"],
    "lift_batch_rows_per_sec_1thread": l["batch_rows_per_sec"],
    "batch_ratio": l["batch_rows_per_sec"] / x["batch_rows_per_sec"],
}, indent=1))
PYEOF
