"""Trains a CTR model with real XGBoost, as a team would on its own
infrastructure, for the import test: rows are clips with Lift's six
features, label = CTR, weight = impressions. Saves the model and its
predictions for every row.

usage: train_xgb.py DATA.csv MODEL.json PREDICTIONS.txt
"""
import sys

import numpy as np
import xgboost as xgb

data, model_path, pred_path = sys.argv[1:4]
rows = np.loadtxt(data, delimiter=",", skiprows=1, dtype=np.float64)
names = ["psychology_composite", "hook_strength", "novelty_score",
         "emotion_priority", "duration", "has_face"]
X, y, w = rows[:, 0:6].astype(np.float32), rows[:, 6], rows[:, 7]
d = xgb.DMatrix(X, label=y, weight=w, feature_names=names)
params = {"objective": "binary:logistic", "tree_method": "hist", "max_depth": 4,
          "eta": 0.1, "seed": 0, "nthread": 1}
booster = xgb.train(params, d, num_boost_round=60)
booster.save_model(model_path)
pred = booster.predict(xgb.DMatrix(X, feature_names=names))
np.savetxt(pred_path, pred, fmt="%.9g")
