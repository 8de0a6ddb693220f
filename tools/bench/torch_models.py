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

--recipe='SPEC@EPOCHS' instead trains one of //experiments:accuracy's
recipes (a cnn spec with bn, sched, smooth, hflip, tta) on Fashion-MNIST the
same way: the last 5,000 training images held out for validation, Adam, the
same one-cycle or warmup-cosine formula per step (LambdaLR), label
smoothing, random mirroring and test-time flips, batch norm with momentum
bn_momentum; it prints the epochs' validation accuracy, the test accuracy
once, and the training wall and CPU seconds as JSON.
"""
import argparse
import gzip
import json
import math
import os
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


def read_idx(path):
    import numpy as np
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def parse_spec(text):
    """Our spec's keys, as far as a recipe uses them (see kernels/nn/model.h)."""
    arch, _, rest = text.partition(":")
    if arch != "cnn":
        raise SystemExit("--recipe takes a cnn spec, got " + arch)
    keys = dict(kv.split("=", 1) for kv in rest.split(",") if kv)
    unknown = set(keys) - {"conv", "kernel", "padding", "hidden", "bn", "bn_momentum",
                           "opt", "lr", "batch", "sched", "warmup", "smooth", "hflip",
                           "tta", "seed", "steps", "momentum", "wd"}
    if unknown or keys.get("opt", "sgd") != "adam":
        raise SystemExit("--recipe: keys %s unsupported (and opt must be adam)" % sorted(unknown))
    return keys


def lr_at(keys, step, total):
    """LearningRateAt of kernels/nn/spec.cc."""
    lr = float(keys["lr"])
    sched = keys.get("sched", "constant")
    if sched == "constant":
        return lr
    t = min(1.0, step / total)
    w = float(keys.get("warmup", 0.25))
    if t < w:
        start = 1.0 / 25 if sched == "onecycle" else 0.0
        return lr * (start + (1 - start) * t / w)
    down = (t - w) / (1 - w)
    return lr * (1 - down) if sched == "onecycle" else lr * 0.5 * (1 + math.cos(math.pi * down))


def make_recipe_model(keys):
    k = int(keys.get("kernel", 5))
    pad = (k - 1) // 2 if keys.get("padding") == "same" else 0
    bn = keys.get("bn") == "1"
    mom = float(keys.get("bn_momentum", 0.1))
    layers, c, size = [nn.Unflatten(1, (1, 28, 28))], 1, 28
    for oc in [int(v) for v in keys.get("conv", "8x16").split("x")]:
        layers.append(nn.Conv2d(c, oc, k, padding=pad, bias=not bn))
        if bn:
            layers.append(nn.BatchNorm2d(oc, eps=1e-5, momentum=mom))
        layers += [nn.ReLU(), nn.MaxPool2d(2)]
        c, size = oc, (size + 2 * pad - k + 1) // 2
    layers.append(nn.Flatten())
    features = c * size * size
    for h in [int(v) for v in keys.get("hidden", "").split("x") if v]:
        layers.append(nn.Linear(features, h, bias=not bn))
        if bn:
            layers.append(nn.BatchNorm1d(h, eps=1e-5, momentum=mom))
        layers.append(nn.ReLU())
        features = h
    layers.append(nn.Linear(features, 10))
    return nn.Sequential(*layers)


def predict(model, x, tta):
    model.eval()
    with torch.no_grad():
        out = []
        for at in range(0, len(x), 256):
            xb = x[at:at + 256]
            p = F.softmax(model(xb), dim=1)
            if tta:
                p = 0.5 * (p + F.softmax(model(xb.view(-1, 28, 28).flip(2).reshape(-1, 784)), dim=1))
            out.append(p.argmax(1))
    model.train()
    return torch.cat(out)


def recipe(text, data_dir, holdout, train_limit):
    spec, _, epochs = text.rpartition("@")
    keys, epochs = parse_spec(spec), int(epochs)
    torch.manual_seed(int(keys.get("seed", 1)))
    x = torch.from_numpy(read_idx(os.path.join(data_dir, "train-images-idx3-ubyte.gz")).reshape(-1, 784).astype("float32") / 255)
    y = torch.from_numpy(read_idx(os.path.join(data_dir, "train-labels-idx1-ubyte.gz")).astype("int64"))
    tx = torch.from_numpy(read_idx(os.path.join(data_dir, "t10k-images-idx3-ubyte.gz")).reshape(-1, 784).astype("float32") / 255)
    ty = torch.from_numpy(read_idx(os.path.join(data_dir, "t10k-labels-idx1-ubyte.gz")).astype("int64"))
    vx, vy, x, y = x[-holdout:], y[-holdout:], x[:-holdout], y[:-holdout]
    if train_limit:
        x, y = x[:train_limit], y[:train_limit]
    batch = int(keys.get("batch", 1))
    steps_per_epoch = len(x) // batch
    total = epochs * steps_per_epoch
    model = make_recipe_model(keys)
    opt = torch.optim.Adam(model.parameters(), lr=float(keys["lr"]))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda step: lr_at(keys, step, total) / float(keys["lr"]))
    smooth, hflip = float(keys.get("smooth", 0)), float(keys.get("hflip", 0))
    tta = keys.get("tta") == "flip"
    val, train_s, cpu_s = [], 0.0, 0.0
    for epoch in range(epochs):
        start, cpu = time.perf_counter(), time.process_time()
        order = torch.randperm(len(x))
        for s in range(steps_per_epoch):
            idx = order[s * batch:(s + 1) * batch]
            xb, yb = x[idx], y[idx]
            if hflip > 0:
                flip = torch.rand(batch) < hflip
                img = xb.view(-1, 28, 28)
                xb = torch.where(flip[:, None, None], img.flip(2), img).reshape(-1, 784)
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(model(xb), yb, label_smoothing=smooth).backward()
            opt.step()
            sched.step()
        train_s += time.perf_counter() - start
        cpu_s += time.process_time() - cpu
        val.append(round(float((predict(model, vx, tta) == vy).float().mean()), 4))
        print(json.dumps({"epoch": epoch + 1, "val_accuracy": val[-1], "train_s": round(train_s, 1)}), flush=True)
    test = float((predict(model, tx, tta) == ty).float().mean())
    print(json.dumps({"recipe": text, "epochs": epochs, "val_accuracy": val,
                      "test_accuracy": round(test, 4), "train_s": round(train_s, 1),
                      "train_cpu_s": round(cpu_s, 1),
                      "samples_per_s": round(epochs * steps_per_epoch * batch / train_s, 1),
                      "threads": torch.get_num_threads()}))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="",
                        help="SPEC@EPOCHS: train this accuracy recipe instead")
    parser.add_argument("--data_dir", default="/usr/share/datasets/fashion-mnist")
    parser.add_argument("--holdout", type=int, default=5000)
    parser.add_argument("--train_limit", type=int, default=0,
                        help="train on the first N images only (smoke runs)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--repeats", type=int, default=3,
                        help="runs per config; the best is reported")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads()}))
    if args.recipe:
        recipe(args.recipe, args.data_dir, args.holdout, args.train_limit)
        return
    for model in ("softmax", "mlp", "cnn"):
        for batch in (1, 64):
            runs = [bench(model, batch, args.seconds) for _ in range(args.repeats)]
            best = max(runs, key=lambda r: r["samples_per_s"])
            best["runs"] = [round(r["samples_per_s"], 1) for r in runs]
            print(json.dumps(best), flush=True)


if __name__ == "__main__":
    main()
