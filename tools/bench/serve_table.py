#!/usr/bin/env python3
"""Ratio table of tools/bench/serve.sh: results.jsonl -> Markdown.

Each line: {"target": "classify"|"get"|"peer", "connections", "rps",
"p50_ms", "p99_ms", "errors", "non2xx", ...} (serve_wrk.lua's line). The
targets of issue 12 are checked at 32 connections. Standard library only.
"""
import json
import sys


def main():
    runs = {}
    with open(sys.argv[1]) as f:
        for line in f:
            r = json.loads(line)
            runs[(r["target"], r["connections"])] = r
    conns = sorted({c for _, c in runs})
    print("| connections | ours :classify req/s | p50 ms | p99 ms | trivial GET req/s | "
          "p99 ms | peer :classify req/s | p50 ms | p99 ms | ours / peer | "
          "classify / GET | failed (ours, GET, peer) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    empty = {"rps": 0.0, "p50_ms": 0.0, "p99_ms": 0.0, "errors": 0, "non2xx": 0,
             "requests": 0, "server_cpu_s": 0.0}
    for c in conns:
        o, g, p = (runs.get((t, c), empty) for t in ("classify", "get", "peer"))
        vs_peer = o["rps"] / p["rps"] if p["rps"] else float("nan")
        vs_get = o["rps"] / g["rps"] if g["rps"] else float("nan")
        failed = ", ".join(str(r["errors"] + r["non2xx"]) for r in (o, g, p))
        print(f"| {c} | {o['rps']:,.0f} | {o['p50_ms']:.2f} | {o['p99_ms']:.2f} | "
              f"{g['rps']:,.0f} | {g['p99_ms']:.2f} | {p['rps']:,.0f} | "
              f"{p['p50_ms']:.2f} | {p['p99_ms']:.2f} | **{vs_peer:.1f}x** | "
              f"**{vs_get:.2f}** | {failed} |")
    def cpu_us(r):
        return 1e6 * r["server_cpu_s"] / r["requests"] if r["requests"] else float("nan")
    print("\nServer CPU time per request (user + system of the server process, and "
          "of gunicorn's master and workers; wrk not counted), microseconds:\n")
    print("| connections | ours :classify | trivial GET | peer :classify | peer / ours |")
    print("|---|---|---|---|---|")
    for c in conns:
        o, g, p = (runs.get((t, c), empty) for t in ("classify", "get", "peer"))
        print(f"| {c} | {cpu_us(o):.1f} | {cpu_us(g):.1f} | {cpu_us(p):.0f} | "
              f"**{cpu_us(p) / cpu_us(o):.0f}x** |")
    o, g, p = (runs.get((t, 32), empty) for t in ("classify", "get", "peer"))
    if o["rps"] and g["rps"] and p["rps"]:
        checks = [
            ("req/s vs the peer at 32 connections", f"{o['rps'] / p['rps']:.1f}x",
             ">= 20x", o["rps"] >= 20 * p["rps"]),
            ("classify vs trivial GET at 32 connections", f"{o['rps'] / g['rps']:.2f}",
             ">= 0.8", o["rps"] >= 0.8 * g["rps"]),
            ("classify p99 at 32 connections", f"{o['p99_ms']:.2f} ms", "<= 2 ms",
             o["p99_ms"] <= 2.0),
        ]
        print("\n| target | measured | wanted | met |\n|---|---|---|---|")
        for name, got, want, met in checks:
            print(f"| {name} | {got} | {want} | {'yes' if met else 'NO'} |")


if __name__ == "__main__":
    main()
