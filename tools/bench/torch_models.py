#!/usr/bin/env python3
"""PyTorch CPU peer for //kernels/nn:model_benchmark.

Trains the same three models (softmax regression 784->10, MLP 784->128->10,
CNN conv5x5x8 -> pool -> conv5x5x16 -> pool -> fc 256->10) with plain SGD on
random data of the same shape, at batch 1 and batch 64, and prints one JSON
object per line: {"model", "batch", "samples_per_s", "step_us", "runs"} (the
best of --repeats runs; the machine is shared, so best-of is the stable
statistic, and compare.sh treats our benchmarks the same way).

Run with Debian's interpreter (the python3 on PATH lacks python3-torch):
  OPENBLAS_NUM_THREADS=1 taskset -c 0,1 /usr/bin/python3 tools/bench/torch_models.py
"""
import argparse
import json
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def make(model):
    if model == "softmax":
        return nn.Linear(784, 10)
    if model == "mlp":
        return nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
    return nn.Sequential(
        nn.Unflatten(1, (1, 28, 28)),
        nn.Conv2d(1, 8, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(256, 10))


def bench(model_name, batch, seconds):
    torch.manual_seed(0)
    model = make(model_name)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    samples = 4096
    x = torch.rand(samples, 784)
    y = torch.randint(0, 10, (samples,))

    def step(i):
        at = (i * batch) % (samples - batch + 1)
        xb, yb = x[at:at + batch], y[at:at + batch]
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()
        return loss

    for i in range(50):  # warm-up
        step(i)
    steps = 0
    start = time.perf_counter()
    while True:
        for _ in range(20):
            step(steps)
            steps += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            break
    return {"model": model_name, "batch": batch,
            "samples_per_s": steps * batch / elapsed,
            "step_us": elapsed / steps * 1e6}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--repeats", type=int, default=3,
                        help="runs per config; the best is reported")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads()}))
    for model in ("softmax", "mlp", "cnn"):
        for batch in (1, 64):
            runs = [bench(model, batch, args.seconds) for _ in range(args.repeats)]
            best = max(runs, key=lambda r: r["samples_per_s"])
            best["runs"] = [round(r["samples_per_s"], 1) for r in runs]
            print(json.dumps(best), flush=True)


if __name__ == "__main__":
    main()
