#!/usr/bin/python3
"""Soak: N samples through experiments/parallel_models.yaml's four models.

Runs `trainbus run` once per backpressure policy (nice -n 19, --nice), samples the
process's VmRSS and VmHWM from /proc/PID/status every few seconds, and reads
how far the stream got from the bus metrics table the run prints
(--metrics_every). Passes when the peak RSS (VmHWM) at the end is at most
--max_growth above the peak at --warmup samples, and, under `block`, when no
subscription dropped anything (the report's bus counters).

  tools/soak/soak.py                          # 10M samples, block then drop_oldest
  tools/soak/soak.py --samples=600000 --warmup=120000 --policies=block
  tools/soak/soak.py --bin=/tmp/trainbus      # that binary, no build

Prints one progress line per sample and a summary table (markdown) at the end;
exits 1 when a policy fails.
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SPEC = os.path.join(ROOT, "experiments", "parallel_models.yaml")
EPOCH_SAMPLES = 60000  # Fashion-MNIST's training split
SOURCE_BATCH = 64      # samples per message of an idx source (topology/spec.h)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--samples", type=int, default=10_000_000)
    p.add_argument("--warmup", type=int, default=1_000_000,
                   help="samples after which the baseline peak RSS is taken")
    p.add_argument("--policies", default="block,drop_oldest")
    p.add_argument("--interval", type=float, default=3.0,
                   help="seconds between RSS samples")
    p.add_argument("--max_growth", type=float, default=0.05)
    p.add_argument("--bin", default="", help="trainbus binary (default: build -c opt)")
    p.add_argument("--log", default="", help="append the progress lines there too")
    p.add_argument("--nice", type=int, default=19,
                   help="the run's nice level (0 on a machine whose other jobs "
                        "run at 0, or it starves)")
    return p.parse_args()


def trainbus_binary(path):
    if path:
        return path
    subprocess.run(["bazel", "build", "-c", "opt", "//tools:trainbus"], cwd=ROOT,
                   check=True, stdout=sys.stderr)
    out = subprocess.run(["bazel", "info", "-c", "opt", "bazel-bin"], cwd=ROOT,
                         check=True, capture_output=True, text=True).stdout.strip()
    return os.path.join(out, "tools", "trainbus")


MEMORY_KEYS = ("VmRSS", "VmHWM", "RssAnon", "RssFile")


def memory_kb(pid):
    """(VmRSS, VmHWM, RssAnon, RssFile) in kB, or None once the process is gone."""
    values = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key, _, rest = line.partition(":")
                if key in MEMORY_KEYS:
                    values[key] = int(rest.split()[0])
    except OSError:
        return None
    if len(values) != len(MEMORY_KEYS):
        return None
    return tuple(values[k] for k in MEMORY_KEYS)


class StreamReader(threading.Thread):
    """Follows the run's stdout: the `mnist` line of each metrics table."""

    def __init__(self, pipe, keep):
        super().__init__(daemon=True)
        self.pipe, self.keep = pipe, keep
        self.published = 0  # messages the source resource accepted

    def run(self):
        for line in self.pipe:
            self.keep.write(line)
            fields = line.split()
            if len(fields) >= 2 and fields[0] == "mnist" and fields[1].isdigit():
                self.published = int(fields[1])


def soak(binary, policy, args, say):
    epochs = math.ceil(args.samples / EPOCH_SAMPLES)
    total = epochs * EPOCH_SAMPLES
    with tempfile.TemporaryDirectory(prefix=f"soak_{policy}_") as work:
        report = os.path.join(work, "report.json")
        cmd = ["nice", "-n", str(args.nice), binary, "run", SPEC, f"--epochs={epochs}",
               f"--policy={policy}", "--quiet", "--out_dir=",
               f"--metrics_every={max(1, int(args.interval))}",
               f"--registry_dir={os.path.join(work, 'registry')}",
               f"--report_json={report}"]
        say(f"[{policy}] {' '.join(cmd)}")
        start = time.monotonic()
        with open(os.path.join(work, "stdout.txt"), "w") as keep:
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
            reader = StreamReader(proc.stdout, keep)
            reader.start()
            points = []  # (seconds, samples, rss_kb, hwm_kb, anon_kb, file_kb)
            while proc.poll() is None:
                mem = memory_kb(proc.pid)
                if mem is not None:
                    samples = reader.published * SOURCE_BATCH
                    points.append((time.monotonic() - start, samples) + mem)
                    say(f"[{policy}] {time.monotonic() - start:7.0f} s "
                        f"{samples / 1e6:6.2f}M / {total / 1e6:.2f}M samples  "
                        f"RSS {mem[0] / 1024:7.1f} MB  peak {mem[1] / 1024:7.1f} MB  "
                        f"(anon {mem[2] / 1024:.1f}, file {mem[3] / 1024:.1f})")
                try:
                    proc.wait(timeout=args.interval)
                except subprocess.TimeoutExpired:
                    pass
            reader.join()
        wall = time.monotonic() - start
        if proc.returncode != 0:
            tail = open(os.path.join(work, "stdout.txt")).read()[-2000:]
            return {"policy": policy, "ok": False,
                    "why": f"trainbus exited {proc.returncode}: {tail}"}
        with open(report) as f:
            doc = json.load(f)
    return summarize(policy, args, points, doc, wall, total)


def summarize(policy, args, points, doc, wall, total):
    after = [p for p in points if p[1] >= args.warmup]
    if not after:
        return {"policy": policy, "ok": False,
                "why": f"no RSS sample after {args.warmup} samples"}
    base, last = after[0], points[-1]
    drops = sum(s["dropped"] for r in doc["bus"] for s in r["subscriptions"])
    growth = last[3] / base[3] - 1
    trained = {m["name"]: m.get("samples", m.get("train_samples", 0)) for m in doc["models"]}
    row = {"policy": policy, "wall_s": wall, "total": total,
           "base_samples": base[1], "base_rss_mb": base[2] / 1024,
           "base_hwm_mb": base[3] / 1024, "end_samples": last[1],
           "end_rss_mb": last[2] / 1024, "end_hwm_mb": last[3] / 1024,
           "growth": growth, "drops": drops, "models": trained,
           "rss_max_mb": max(p[2] for p in after) / 1024}
    problems = []
    if growth > args.max_growth:
        problems.append(f"peak RSS grew {growth:.1%} (> {args.max_growth:.0%})")
    if policy == "block" and drops:
        problems.append(f"{drops} drops under block")
    row["ok"] = not problems
    row["why"] = "; ".join(problems) or "pass"
    return row


def main():
    args = parse_args()
    log = open(args.log, "a") if args.log else None

    def say(text):
        print(text, flush=True)
        if log:
            log.write(text + "\n")
            log.flush()

    binary = trainbus_binary(args.bin)
    say(f"load average at start: {os.getloadavg()[0]:.2f}")
    rows = [soak(binary, p, args, say) for p in args.policies.split(",")]
    say(f"load average at end: {os.getloadavg()[0]:.2f}")
    say("")
    say("| policy | samples | wall s | peak RSS at warm-up (samples) | peak RSS at end "
        "(samples) | growth | drops | result |")
    say("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        if "growth" not in r:
            say(f"| {r['policy']} | | | | | | | FAIL: {r['why']} |")
            continue
        say(f"| {r['policy']} | {r['total']:,} | {r['wall_s']:.0f} | "
            f"{r['base_hwm_mb']:.1f} MB ({r['base_samples']:,}) | "
            f"{r['end_hwm_mb']:.1f} MB ({r['end_samples']:,}) | {r['growth']:+.2%} | "
            f"{r['drops']:,} | {'pass' if r['ok'] else 'FAIL: ' + r['why']} |")
    for r in rows:
        if "models" in r:
            say(f"{r['policy']}: samples trained per model {r['models']}; "
                f"RSS at warm-up {r['base_rss_mb']:.1f} MB, at end {r['end_rss_mb']:.1f} MB, "
                f"max after warm-up {r['rss_max_mb']:.1f} MB")
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
