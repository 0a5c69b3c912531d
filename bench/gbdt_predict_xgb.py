"""XGBoost's side of bench/gbdt_predict.sh.

  gbdt_predict_xgb.py DATA_DIR OUT_DIR ROWS

Trains XGBoost 1.7 on the Higgs subset (binary:logistic, 100 rounds, depth 6,
eta 0.1, hist, max_bin 256, 2 threads), saves OUT_DIR/model.json, writes
OUT_DIR/rows.tsv (label then 28 features; the Higgs train and test rows
repeated to ROWS rows), then times prediction with one thread and prints one
JSON object:

  single row: XGBoosterPredictFromDense (what Booster.inplace_predict calls)
              through ctypes, one call per row, its array-interface and config
              strings prepared beforehand, so only the C API call is timed;
  batch:      Booster.predict on a fresh DMatrix (built outside the timing;
              XGBoost caches predictions per DMatrix), best of 5.
"""
import ctypes
import gzip
import json
import os
import sys
import time

import numpy as np
import xgboost as xgb


def load(path):
    with gzip.open(path, "rt") as f:
        a = np.loadtxt(f, dtype=np.float64)
    return a[:, 1:].astype(np.float32), a[:, 0].astype(np.float32)


def main():
    data_dir, out, rows = sys.argv[1], sys.argv[2], int(sys.argv[3])
    xtr, ytr = load(os.path.join(data_dir, "higgs_lgbm_binary.train.tsv.gz"))
    xte, yte = load(os.path.join(data_dir, "higgs_lgbm_binary.test.tsv.gz"))
    params = {"objective": "binary:logistic", "eta": 0.1, "max_depth": 6, "tree_method": "hist",
              "max_bin": 256, "nthread": 2, "seed": 0}
    t0 = time.perf_counter()
    bst = xgb.train(params, xgb.DMatrix(xtr, label=ytr), num_boost_round=100)
    train_s = time.perf_counter() - t0
    bst.save_model(os.path.join(out, "model.json"))
    bst.set_param({"nthread": 1})

    x = np.resize(np.vstack([xtr, xte]), (rows, xtr.shape[1])).astype(np.float32)
    y = np.resize(np.concatenate([ytr, yte]), rows)
    np.savetxt(os.path.join(out, "rows.tsv"), np.column_stack([y, x]), delimiter="\t", fmt="%.9g")
    margins = bst.predict(xgb.DMatrix(x), output_margin=True)
    margins.astype(np.float32).tofile(os.path.join(out, "xgb_margin.f32"))

    # Single row through the C API.
    lib = xgb.core._LIB
    fn = lib.XGBoosterPredictFromDense
    cfg = json.dumps({"type": 1, "training": False, "iteration_begin": 0, "iteration_end": 0,
                      "strict_shape": False, "missing": float("nan"), "cache_id": 0}).encode()
    shape = ctypes.POINTER(ctypes.c_uint64)()
    dim = ctypes.c_uint64()
    result = ctypes.POINTER(ctypes.c_float)()
    rows_c = [np.ascontiguousarray(x[i:i + 1]) for i in range(min(rows, 20000))]
    ifaces = [json.dumps({"data": [r.ctypes.data, True], "shape": [1, x.shape[1]], "strides": None,
                          "typestr": "<f4", "version": 3}).encode() for r in rows_c]
    handle = bst.handle
    for i in range(200):  # warm up
        fn(handle, ifaces[i], cfg, None, ctypes.byref(shape), ctypes.byref(dim), ctypes.byref(result))
    lat = []
    clock = time.perf_counter_ns
    for i, iface in enumerate(ifaces):
        t = clock()
        rc = fn(handle, iface, cfg, None, ctypes.byref(shape), ctypes.byref(dim), ctypes.byref(result))
        lat.append(clock() - t)
        if rc != 0:
            sys.exit("XGBoosterPredictFromDense failed: " + xgb.core._LIB.XGBGetLastError().decode())
        if i < 100 and abs(result[0] - margins[i]) > 1e-6:
            sys.exit("C API margin %r differs from predict() %r at row %d" % (result[0], margins[i], i))
    lat.sort()

    best = float("inf")
    for _ in range(5):
        d = xgb.DMatrix(x)
        t = time.perf_counter()
        bst.predict(d, output_margin=True)
        best = min(best, time.perf_counter() - t)

    print(json.dumps({
        "xgboost": xgb.__version__, "train_seconds": train_s, "rows": rows,
        "single_row_ns_p50": lat[len(lat) // 2], "single_row_ns_p99": lat[int(0.99 * (len(lat) - 1))],
        "single_row_samples": len(lat), "batch_rows_per_sec": rows / best,
    }))


if __name__ == "__main__":
    main()
