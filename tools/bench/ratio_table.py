#!/usr/bin/env python3
"""Turns the JSON of our benchmarks, OpenBLAS and PyTorch into ratio tables.

  ratio_table.py --peak peak.json --gemm gemm.json --conv conv.json \
      --models models.json --torch torch.jsonl
  ratio_table.py --peak peak.json --gemm gemm.json     # GEMM tables only

Every statistic is the best of the repetitions in the files (the machine is
shared with other jobs; best-of is what the hardware can do). Prints
Markdown. Needs only the standard library.
"""
import argparse
import json
import re


def best(path, counter):
    """name (without /real_time and repetition suffixes) -> best counter."""
    out = {}
    with open(path) as f:
        data = json.load(f)
    # Registration order (interleaved repetitions arrive shuffled).
    order = lambda b: (b.get("family_index", 0), b.get("per_family_instance_index", 0))
    for b in sorted(data["benchmarks"], key=order):
        if b.get("run_type") == "aggregate" or counter not in b:
            continue
        name = b.get("run_name", b["name"]).replace("/real_time", "")
        out[name] = max(out.get(name, 0.0), float(b[counter]))
    return out


OPS = {"0": "A·B", "1": "A·Bᵀ", "2": "Aᵀ·B"}


def ratio(a, b):
    return a / b if a and b else float("nan")


def gemm_shapes(gemm):
    """(label, rate) per benchmarked shape; rate("BM_GemmOneDnn1") is 0 if absent."""
    for name in gemm:
        if not name.startswith("BM_GemmOursSerial/"):
            continue
        shape = name.split("/", 1)[1]
        m = re.match(r"M:(\d+)/K:(\d+)/N:(\d+)/op:(\d)", shape)
        label = f"{m.group(1)}x{m.group(2)}x{m.group(3)} ({OPS[m.group(4)]})"
        yield label, lambda impl, shape=shape: gemm.get(f"{impl}/{shape}", 0.0)


def gemm_table(gemm, peak1):
    """1-thread table: ours against OpenBLAS, oneDNN and libxsmm."""
    rows = ["| shape M x K x N (op) | ours | OpenBLAS | oneDNN | libxsmm | "
            "ours/OpenBLAS | ours/oneDNN | ours/libxsmm | ours % of peak |",
            "|---|---|---|---|---|---|---|---|---|"]
    ratios = []
    for label, rate in gemm_shapes(gemm):
        ours, blas = rate("BM_GemmOursSerial"), rate("BM_GemmOpenBLAS1")
        dnnl, xsmm = rate("BM_GemmOneDnn1"), rate("BM_GemmXsmm1")
        r_blas, r_dnnl = ratio(ours, blas), ratio(ours, dnnl)
        ratios.append((label, r_blas, r_dnnl))
        xs = f"{xsmm:.1f}" if xsmm else "no JIT kernel"
        rx = f"{ratio(ours, xsmm):.2f}" if xsmm else "–"
        pct = 100 * ours / peak1 if peak1 else float("nan")
        rows.append(f"| {label} | {ours:.1f} | {blas:.1f} | {dnnl:.1f} | {xs} | "
                    f"**{r_blas:.2f}** | **{r_dnnl:.2f}** | {rx} | {pct:.0f}% |")
    return rows, ratios


def gemm_threads_table(gemm):
    """Wall clock, 2 threads against 1 (ours never slower), and the peers' 2 threads."""
    rows = ["| shape M x K x N (op) | ours 1T | ours 2T | ours 2T/1T | OpenBLAS 2T | "
            "oneDNN 2T | ours/OpenBLAS 2T | ours/oneDNN 2T |",
            "|---|---|---|---|---|---|---|---|"]
    for label, rate in gemm_shapes(gemm):
        ours1, ours2 = rate("BM_GemmOurs1TWall"), rate("BM_GemmOurs2T")
        blas2, dnnl2 = rate("BM_GemmOpenBLAS2"), rate("BM_GemmOneDnn2")
        rows.append(f"| {label} | {ours1:.1f} | {ours2:.1f} | {ratio(ours2, ours1):.2f} | "
                    f"{blas2:.1f} | {dnnl2:.1f} | {ratio(ours2, blas2):.2f} | "
                    f"{ratio(ours2, dnnl2):.2f} |")
    return rows


def print_gemm(path, peak1):
    with open(path) as f:
        context = json.load(f).get("context", {})
    gemm = best(path, "GFLOP/s")
    print(f"GEMM config: {context.get('gemm_config', 'not reported')}\n")
    rows, _ = gemm_table(gemm, peak1)
    print("### GEMM, 1 thread: ours vs OpenBLAS sgemm, oneDNN dnnl_sgemm, libxsmm JIT "
          "(GFLOP/s)\n")
    print("\n".join(rows) + "\n")
    print("### GEMM, 2 threads against 1 (GFLOP/s, wall clock)\n")
    print("\n".join(gemm_threads_table(gemm)) + "\n")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--peak", required=True)
    p.add_argument("--gemm", required=True)
    for flag in ("conv", "models", "torch"):
        p.add_argument("--" + flag, help="omit all three for the GEMM tables only")
    p.add_argument("--torch1", help="PyTorch run with 1 thread (optional)")
    args = p.parse_args()

    peak = best(args.peak, "GFLOP/s")
    peak1 = max((v for k, v in peak.items() if "threads:1" in k), default=0.0)
    peak2 = max((v for k, v in peak.items() if "threads:2" in k), default=0.0)
    print(f"FMA peak (register-only FMA loop): 1 thread {peak1:.0f} GFLOP/s "
          f"(the better of wall-clock and CPU-time rates), 2 threads {peak2:.0f} GFLOP/s "
          f"(wall clock)\n")

    print_gemm(args.gemm, peak1)
    if not (args.conv and args.models and args.torch):
        return

    conv = best(args.conv, "GFLOP/s")
    print("### Convolution by method (M:0 im2col + GEMM, M:1 direct; 2 threads)\n")
    print("| benchmark | GFLOP/s |\n|---|---|")
    for name, v in conv.items():
        print(f"| {name} | {v:.1f} |")
    print()

    ours = best(args.models, "items_per_second")
    flops = best(args.models, "GFLOP/s")
    def load_torch(path):
        out = {}
        with open(path) as f:
            for line in f:
                r = json.loads(line)
                if "model" in r:
                    out[(r["model"], r["batch"])] = r["samples_per_s"]
        return out

    torch2 = load_torch(args.torch)
    torch1 = load_torch(args.torch1) if args.torch1 else {}
    names = {"softmax": "BM_TrainSoftmax", "mlp": "BM_TrainMlp", "cnn": "BM_TrainCnn"}
    print("### Training throughput: ours vs PyTorch CPU (samples/s)\n")
    print("Each side's best configuration: ours with TBB on 2 threads (the default) or 1, "
          "PyTorch with 2 threads (the issue's setting) or 1. `ratio vs 2T` compares the "
          "2-thread runs of both.\n")
    print("| model | batch | ours 2T | ours 1T | PyTorch 2T | PyTorch 1T | ratio (best/best) | "
          "target | met | ratio vs 2T | ours GFLOP/s | % of 1-thread FMA peak |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for model, bench in names.items():
        for batch in (1, 64):
            o2 = ours.get(f"{bench}/{batch}/0", 0.0)
            o1 = ours.get(f"{bench}/{batch}/1", 0.0)
            o = max(o1, o2)
            t2 = torch2.get((model, batch), 0.0)
            t1 = torch1.get((model, batch), 0.0)
            t = max(t1, t2)
            ratio = o / t if t else float("nan")
            ratio2 = o2 / t2 if t2 else float("nan")
            target = 10.0 if batch == 1 else 1.5
            g = max(flops.get(f"{bench}/{batch}/0", 0.0), flops.get(f"{bench}/{batch}/1", 0.0))
            print(f"| {model} | {batch} | {o2:,.0f} | {o1:,.0f} | {t2:,.0f} | {t1:,.0f} | "
                  f"**{ratio:.1f}x** | >= {target}x | {'yes' if ratio >= target else 'NO'} | "
                  f"{ratio2:.1f}x | {g:.1f} | {100 * g / peak1:.0f}% |")


if __name__ == "__main__":
    main()
