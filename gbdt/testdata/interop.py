"""XGBoost's side of gbdt/interop_model_test.go.

  interop.py train DIR    train models on seeded synthetic data with XGBoost and
                          write, per case, DIR/CASE.model.json, the inputs and
                          XGBoost's margins, predictions, pred_contribs and get_score
  interop.py predict DIR  load DIR/CASE.lift.json (saved by lift) and write
                          DIR/CASE.lift_margin.f32 and DIR/CASE.lift_pred.f32

  interop.py libsvm MODEL DATA OUT
                          XGBoost's own libsvm reader on DATA (gzip-decompressed by
                          the caller), margins of MODEL written to OUT

Arrays are raw little-endian float32 files (rows x columns, row-major).
"""
import json
import os
import sys

import numpy as np
import xgboost as xgb

CASES = {
    # name: (objective, rounds, max_depth, named features)
    "logistic": ("binary:logistic", 30, 6, False),
    "reglogistic": ("reg:logistic", 10, 3, True),
    "sqerr": ("reg:squarederror", 25, 5, False),
}
ROWS, COLS = 1500, 12


def data(seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(ROWS, COLS)).astype(np.float32)
    x[:, 3] = np.round(x[:, 3])  # ties at thresholds
    mask = rng.random(size=x.shape) < 0.08
    x[mask] = np.nan
    z = np.nan_to_num(x[:, 0]) * 1.5 - np.nan_to_num(x[:, 1]) + np.nan_to_num(x[:, 2] * x[:, 3]) + rng.normal(size=ROWS) * 0.5
    return x, z


def train(out):
    for i, (name, (obj, rounds, depth, named)) in enumerate(sorted(CASES.items())):
        x, z = data(i + 1)
        y = (z > 0).astype(np.float32) if obj != "reg:squarederror" else z.astype(np.float32)
        names = ["feat_%d" % j for j in range(COLS)] if named else None
        d = xgb.DMatrix(x, label=y, missing=np.nan, feature_names=names)
        params = {"objective": obj, "max_depth": depth, "eta": 0.3, "tree_method": "hist",
                  "max_bin": 256, "nthread": 1, "seed": 0, "gamma": 0.05}
        bst = xgb.train(params, d, num_boost_round=rounds)
        bst.save_model(os.path.join(out, name + ".model.json"))
        dt = xgb.DMatrix(x, missing=np.nan, feature_names=names)
        x.tofile(os.path.join(out, name + ".x.f32"))
        bst.predict(dt, output_margin=True).astype(np.float32).tofile(os.path.join(out, name + ".margin.f32"))
        dt = xgb.DMatrix(x, missing=np.nan, feature_names=names)
        bst.predict(dt).astype(np.float32).tofile(os.path.join(out, name + ".pred.f32"))
        dt = xgb.DMatrix(x, missing=np.nan, feature_names=names)
        bst.predict(dt, pred_contribs=True).astype(np.float32).tofile(os.path.join(out, name + ".contribs.f32"))
        scores = {k: bst.get_score(importance_type=k) for k in ["weight", "gain", "cover", "total_gain", "total_cover"]}
        with open(os.path.join(out, name + ".importance.json"), "w") as f:
            json.dump(scores, f)


def predict(out):
    for name, (_, _, _, named) in sorted(CASES.items()):
        bst = xgb.Booster()
        bst.load_model(os.path.join(out, name + ".lift.json"))
        x = np.fromfile(os.path.join(out, name + ".x.f32"), dtype=np.float32).reshape(ROWS, COLS)
        names = ["feat_%d" % j for j in range(COLS)] if named else None
        if bst.feature_names != names:
            sys.exit("%s: feature names %r after loading, want %r" % (name, bst.feature_names, names))
        dt = xgb.DMatrix(x, missing=np.nan, feature_names=names)
        bst.predict(dt, output_margin=True).astype(np.float32).tofile(os.path.join(out, name + ".lift_margin.f32"))
        dt = xgb.DMatrix(x, missing=np.nan, feature_names=names)
        bst.predict(dt).astype(np.float32).tofile(os.path.join(out, name + ".lift_pred.f32"))


def libsvm(model, data, out):
    bst = xgb.Booster()
    bst.load_model(model)
    bst.predict(xgb.DMatrix(data + "?format=libsvm"), output_margin=True).astype(np.float32).tofile(out)


if __name__ == "__main__":
    if sys.argv[1] == "libsvm":
        libsvm(*sys.argv[2:5])
    else:
        {"train": train, "predict": predict}[sys.argv[1]](sys.argv[2])
