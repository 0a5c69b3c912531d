"""XGBoost's side of gbdt/interop_train_test.go.

  interop_train.py DIR   read DIR/manifest.json, a list of cases written by the Go test:
                         {"name", "rows", "cols", "x", "label", "weight" (or null), "params", "rounds",
                          "test_x", "test_rows"}
                         with arrays as raw little-endian float32 files (row-major, NaN = missing).
                         For each case:
                         - load DIR/NAME.lift.json (trained and saved by lift) with
                           xgboost.Booster(model_file=...) and write its margins and predictions
                           on test_x to DIR/NAME.lift_margin.f32 and DIR/NAME.lift_pred.f32;
                         - train XGBoost with the same params on the same data and save
                           DIR/NAME.xgb.json, so the test can compare the trees.
"""
import json
import os
import sys

import numpy as np
import xgboost as xgb


def f32(path, rows, cols=None):
    a = np.fromfile(path, dtype="<f4")
    return a.reshape(rows, cols) if cols else a


def main():
    d = sys.argv[1]
    with open(os.path.join(d, "manifest.json")) as f:
        cases = json.load(f)
    for c in cases:
        name = c["name"]
        test = xgb.DMatrix(f32(os.path.join(d, c["test_x"]), c["test_rows"], c["cols"]), missing=np.nan)
        lift = xgb.Booster(model_file=os.path.join(d, name + ".lift.json"))
        lift.predict(test, output_margin=True).astype("<f4").tofile(os.path.join(d, name + ".lift_margin.f32"))
        test = xgb.DMatrix(f32(os.path.join(d, c["test_x"]), c["test_rows"], c["cols"]), missing=np.nan)
        lift.predict(test).astype("<f4").tofile(os.path.join(d, name + ".lift_pred.f32"))

        x = f32(os.path.join(d, c["x"]), c["rows"], c["cols"])
        y = f32(os.path.join(d, c["label"]), c["rows"])
        w = f32(os.path.join(d, c["weight"]), c["rows"]) if c["weight"] else None
        train = xgb.DMatrix(x, label=y, weight=w, missing=np.nan)
        params = dict(c["params"], tree_method="hist", nthread=1)
        bst = xgb.train(params, train, num_boost_round=c["rounds"])
        bst.save_model(os.path.join(d, name + ".xgb.json"))


if __name__ == "__main__":
    main()
