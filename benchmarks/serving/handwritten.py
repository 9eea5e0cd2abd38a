"""The hand-written prediction service users copy from blog posts - the serving benchmark's
baseline. Deliberately ordinary: FastAPI, a pydantic model of the feature fields, a one-row
pandas DataFrame, and a joblib-loaded scikit-learn pipeline (SimpleImputer + StandardScaler +
RandomForestClassifier, 100 trees, depth 10) calling ``predict`` and ``predict_proba``. The
caller sends the feature values themselves: there is no feature lookup and no logging.

Run it as users do, from this folder (the benchmark does exactly this)::

    MODEL_PATH=model.joblib uvicorn handwritten:app --host 127.0.0.1 --port 8000 --workers 2

With ``--workers N`` uvicorn binds the listening socket in its supervisor and hands it to the
workers; that socket is created without ``IPPROTO_TCP``, so asyncio never sets TCP_NODELAY on
the accepted connections, and each keep-alive response waits for the client's delayed ACK
(about 40 ms on Linux; uvicorn issue 3149). That is left as it is: it is what users get.
"""

from __future__ import annotations

import os
import warnings

import joblib
import pandas as pd
from fastapi import FastAPI
from pydantic import BaseModel

# The pipeline was fitted on a NumPy array; scikit-learn warns about the DataFrame's column
# names on every call otherwise.
warnings.filterwarnings("ignore", message="X has feature names")

MODEL_PATH = os.environ["MODEL_PATH"]
pipeline = joblib.load(MODEL_PATH)

app = FastAPI(title="fraud model")


class Transaction(BaseModel):
    """The model's seven features, in training order (``None`` where the history has none)."""

    amount_count_1h: float | None = None
    amount_sum_1h: float | None = None
    amount_count_7d: float | None = None
    amount_mean_30d: float | None = None
    amount_to_mean_30d: float | None = None
    amount_to_max_7d: float | None = None
    new_category: float | None = None


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/predict")
def predict(transaction: Transaction) -> dict[str, float | bool]:
    frame = pd.DataFrame([transaction.model_dump()])
    prediction = pipeline.predict(frame)[0]
    probability = pipeline.predict_proba(frame)[0][1]
    return {"is_fraud": bool(prediction), "probability": float(probability)}
