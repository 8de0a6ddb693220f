"""The peer of `trainbus serve` for tools/bench/serve.sh: what many teams
write, Flask + PyTorch, the same model (our checkpoint, read by
checkpoint.py) and the same request and answer as our raw-PNG :classify:

  POST /v1/models/<name>[/labels/<label>]:classify   body: a PNG or JPEG
  -> {"result": [[["0", 0.01], ["1", 0.93], ...]]}

Run behind gunicorn (gunicorn.conf.py); TRAINBUS_CHECKPOINT names the file.
"""
import io
import os

import numpy as np
import torch
from flask import Flask, jsonify, request
from PIL import Image

from checkpoint import load_model

# One intra-op thread per worker: gunicorn runs two workers on two CPUs.
torch.set_num_threads(1)
SPEC, MODEL = load_model(os.environ["TRAINBUS_CHECKPOINT"])
app = Flask(__name__)


def to_input(body):
    """28x28 gray in [0, 1], light object on dark (as data/mnist28 does for
    28x28 images; other sizes are only resized here)."""
    img = Image.open(io.BytesIO(body)).convert("L")
    if img.size != (28, 28):
        img = img.resize((28, 28), Image.BOX)
    x = np.asarray(img, dtype=np.float32)
    border = np.concatenate([x[0], x[-1], x[1:-1, 0], x[1:-1, -1]])
    if np.median(border) > 127:
        x = 255.0 - x
    return torch.from_numpy(x.reshape(1, 784) / 255.0)


@app.post("/v1/models/<name>:classify")
@app.post("/v1/models/<name>/labels/<label>:classify")
def classify(name, label="latest"):
    try:
        x = to_input(request.get_data())
    except Exception as e:  # PIL raises several types for a bad image
        return jsonify(error=f"the body is not a readable image: {e}"), 400
    with torch.no_grad():
        probs = MODEL(x)[0].tolist()
    return jsonify(result=[[[str(c), p] for c, p in enumerate(probs)]])


@app.get("/health")
def health():
    return jsonify(live=True, spec=SPEC)
