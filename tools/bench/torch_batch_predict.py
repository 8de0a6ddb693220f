#!/usr/bin/env python3
"""PyTorch CPU peer for //serving:batch_predict_benchmark (trainbus predict).

Runs the models of torch_models.py (same architectures) in eval mode under
torch.no_grad() over an IDX images file at --batch_size, and prints one JSON
line per model: samples/s of the forward passes alone, and end to end as a
team would write it: read the IDX, scale to [0, 1], softmax, and insert one
row per input (batch, input id, label, JSON scores, model, version, time)
into SQLite (WAL, synchronous=NORMAL), one transaction per batch. Best of
--repeats runs.

  OPENBLAS_NUM_THREADS=1 taskset -c 0,1 /usr/bin/python3 \
      tools/bench/torch_batch_predict.py --input t10k-images-idx3-ubyte.gz
"""
import argparse
import gzip
import json
import os
import sqlite3
import sys
import tempfile
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_models import make  # noqa: E402


def read_idx_images(path):
    opener = gzip.open if open(path, "rb").read(2) == b"\x1f\x8b" else open
    with opener(path, "rb") as f:
        data = f.read()
    count, rows, cols = (int.from_bytes(data[i:i + 4], "big") for i in (4, 8, 12))
    return np.frombuffer(data, np.uint8, offset=16).reshape(count, rows * cols)


def run(model, path, batch, db):
    start = time.perf_counter()
    pixels = read_idx_images(path)
    forward = 0.0
    con = sqlite3.connect(db)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    con.execute("CREATE TABLE IF NOT EXISTS predictions(id INTEGER PRIMARY KEY,"
                " batch INTEGER, input TEXT, label INTEGER, scores TEXT,"
                " model TEXT, version INTEGER, time_ns INTEGER)")
    with torch.no_grad():
        for b, at in enumerate(range(0, len(pixels), batch)):
            x = torch.from_numpy(pixels[at:at + batch].astype(np.float32) / 255.0)
            t = time.perf_counter()
            probs = torch.softmax(model(x), dim=1)
            forward += time.perf_counter() - t
            labels = probs.argmax(dim=1).tolist()
            now = time.time_ns()
            rows = [(b, f"idx:{path}:{at + i}", labels[i], json.dumps(p),
                     "bench", 1, now) for i, p in enumerate(probs.tolist())]
            with con:
                con.executemany("INSERT INTO predictions(batch, input, label,"
                                " scores, model, version, time_ns) VALUES"
                                " (?, ?, ?, ?, ?, ?, ?)", rows)
    con.close()
    return len(pixels), forward, time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", required=True)
    parser.add_argument("--batch_size", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(json.dumps({"torch": torch.__version__,
                      "threads": torch.get_num_threads()}), flush=True)
    for name in ("softmax", "mlp", "cnn"):
        torch.manual_seed(0)
        model = make(name).eval()
        best_forward = best_total = 0.0
        runs = []
        for _ in range(args.repeats):
            with tempfile.TemporaryDirectory() as tmp:
                n, forward, total = run(model, args.input, args.batch_size,
                                        os.path.join(tmp, "p.db"))
            best_forward = max(best_forward, n / forward)
            best_total = max(best_total, n / total)
            runs.append(round(n / total, 1))
        print(json.dumps({"model": name, "batch": args.batch_size, "samples": n,
                          "predict_samples_per_s": best_forward,
                          "end_to_end_samples_per_s": best_total,
                          "end_to_end_runs": runs}), flush=True)


if __name__ == "__main__":
    main()
