#!/usr/bin/python3
"""Ours vs oneDNN convolution, from conv_peer_benchmark's JSON (one or more
files, e.g. a 2-thread and a 1-thread run), as a Markdown table.

  conv_peer_table.py --run "2 threads=conv_peer2.json" --run "1 thread=conv_peer1.json"

Each row is a (pass, shape); a cell is ours GFLOP/s, oneDNN GFLOP/s and
ours/oneDNN. With repetitions, a benchmark's figure is the median of its
repetitions (the pair ran interleaved, so both saw the same load).

--cpu: rates from CPU time instead of wall time. Only meaningful for
single-threaded runs (taskset -c 0, OMP_NUM_THREADS=1), where all the work is
on the timed thread; on a machine loaded by other jobs it leaves out the time
spent waiting for a CPU.
"""
import argparse
import json
import statistics
import sys


def load(path, cpu):
    """{(pass, shape, impl): [GFLOP/s, ...]} and {(pass, shape): method}."""
    with open(path) as f:
        data = json.load(f)
    rates, methods = {}, {}
    for b in data["benchmarks"]:
        if b.get("run_type") == "aggregate" or b.get("error_occurred"):
            continue
        # BM_ConvForward/B:64/C:1/HW:28/OC:8/K:5/P:0/ours/real_time
        parts = b["run_name"].split("/")
        impl = parts[-2] if parts[-1] == "real_time" else parts[-1]
        shape = "/".join(p for p in parts[1:] if ":" in p)
        pas = parts[0].replace("BM_Conv", "")
        rate = b["GFLOP/s"]
        if cpu:
            rate *= b["real_time"] / b["cpu_time"]
        rates.setdefault((pas, shape, impl), []).append(rate)
        if impl == "ours":
            methods[(pas, shape)] = b.get("label", "")
    return rates, methods


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", action="append", required=True,
                    help="LABEL=conv_peer.json")
    ap.add_argument("--cpu", action="store_true",
                    help="rates from CPU time (single-threaded runs)")
    args = ap.parse_args()
    runs = []
    for r in args.run:
        label, _, path = r.partition("=")
        runs.append((label, *load(path, args.cpu)))
    keys = []
    for _, rates, _ in runs:
        for (pas, shape, impl) in rates:
            if (pas, shape) not in keys:
                keys.append((pas, shape))
    head = "| pass | shape (B/C/HW/OC/K/P) | method |"
    rule = "|---|---|---|"
    for label, _, _ in runs:
        head += f" ours / oneDNN GFLOP/s, {label} | ratio |"
        rule += "---|---|"
    print(head)
    print(rule)
    for pas, shape in keys:
        method = next((m[(pas, shape)] for _, _, m in runs
                       if (pas, shape) in m), "")
        row = f"| {pas} | {shape} | {method} |"
        for _, rates, _ in runs:
            ours = rates.get((pas, shape, "ours"))
            peer = rates.get((pas, shape, "onednn"))
            if not ours or not peer:
                row += " - | - |"
                continue
            o, p = statistics.median(ours), statistics.median(peer)
            ratio = o / p if p else float("nan")
            mark = "**" if ratio < 0.8 else ""
            row += f" {o:.1f} / {p:.1f} | {mark}{ratio:.2f}{mark} |"
        print(row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
