#!/usr/bin/python3
"""Turns `bench_gemm --benchmark_format=json` output into a markdown table of
speed ratios against the baselines (oneDNN, XNNPACK) and a PNG chart.

usage: bench/report.py results.json [--time cpu] [--stat min] [--png out.png] > table.md

With --benchmark_repetitions the median aggregate is used, or with
--stat min the fastest repetition (needs the per-repetition rows, i.e. no
--benchmark_report_aggregates_only; on a shared VM whose speed drifts, the
best of several interleaved repetitions is the steadier statistic). --time cpu uses
CPU time (robust on a shared machine; for 1-thread rows it is the work the
thread did), --time real (default) wall time. Ratios are baseline_time / qasr_time (> 1: qasr is faster). "of membw" is
qasr's weight-streaming rate over the matching-size membw/read probe
(cache-resident sizes) and over the 256 MiB DRAM probe. Rows named
.../stream rotate over copies of the layer larger than the L3 cache, so their
weights come from DRAM ("weights: DRAM"); they are compared with the DRAM
probe only. Shapes measured at 1 and 2 threads get a second table of the
2-thread speedup (1-thread time / 2-thread time) per implementation.
"""
import argparse
import json
import re
import sys
from collections import defaultdict

NAME = re.compile(r"^gemm/(?P<impl>[^/]+)/M(?P<m>\d+)xN(?P<n>\d+)xK(?P<k>\d+)/threads:(?P<t>\d+)"
                  r"(?P<stream>/stream)?(?:/|$)")
BASELINES = ["onednn_f32", "onednn_s8", "xnnpack_f32", "xnnpack_qs8"]


def load(path, clock="real", stat="median"):
    """Times and weight rates per (impl, key). stat "median" reads the median
    aggregates (or the single runs without repetitions); "min" takes the
    fastest repetition of each benchmark from its per-repetition rows."""
    with open(path) as f:
        data = json.load(f)
    has_median = any(b.get("aggregate_name") == "median" for b in data["benchmarks"])
    runs = defaultdict(list)  # name -> [(time, rate)]
    for b in data["benchmarks"]:
        if "error_occurred" in b:
            continue
        is_median = b.get("run_type") == "aggregate" and b.get("aggregate_name") == "median"
        if stat == "min":
            if b.get("run_type") == "aggregate":
                continue
        elif b.get("run_type") == "aggregate" and not is_median:
            continue
        elif has_median != is_median:
            continue
        name = b.get("run_name", b["name"])
        # bytes_per_second follows the benchmark's own clock (real time for
        # gemm/*, CPU time for membw/*); rescale it to the chosen one.
        own = "real_time" if "/threads:" in name else "cpu_time"
        rate = b.get("bytes_per_second", 0.0) * b[own] / b[f"{clock}_time"]
        runs[name].append((b[f"{clock}_time"], rate))
    times, bw, membw = {}, {}, {}
    for name, samples in runs.items():
        time, rate = min(samples)  # one sample unless stat == "min"
        if name.startswith("membw/read"):
            size = name.split("/")[2] if name.count("/") >= 2 else "dram"
            membw[size] = rate
            continue
        m = NAME.match(name)
        if not m:
            continue
        key = (int(m["m"]), int(m["n"]), int(m["k"]), int(m["t"]), bool(m["stream"]))
        times[(m["impl"], key)] = time
        bw[(m["impl"], key)] = rate
    return times, bw, membw


def cache_probe(membw, weight_bytes):
    """The smallest cache-resident probe at least as large as the weights."""
    sizes = sorted((int(s[:-3]) * 1024, v) for s, v in membw.items() if s.endswith("KiB"))
    for size, v in sizes:
        if size >= weight_bytes:
            return v
    return sizes[-1][1] if sizes else None


def thread_scaling(times):
    """[((m, n, k), [(impl, time_1thread / time_2threads), ...]), ...] for
    every cached shape measured at both 1 and 2 threads."""
    shapes = sorted({(k[0], k[1], k[2]) for (_, k) in times if k[3] == 2 and not k[4]})
    result = []
    for m, n, k in shapes:
        row = []
        for impl in sorted({i for (i, _) in times}):
            one, two = times.get((impl, (m, n, k, 1, False))), times.get((impl, (m, n, k, 2, False)))
            if one and two:
                row.append((impl, one / two))
        if row:
            result.append(((m, n, k), row))
    return result


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("json")
    ap.add_argument("--png")
    ap.add_argument("--time", choices=["real", "cpu"], default="real")
    ap.add_argument("--stat", choices=["median", "min"], default="median")
    args = ap.parse_args()
    times, bw, membw = load(args.json, args.time, args.stat)
    keys = sorted({k for (_, k) in times})
    impls = sorted({i for (i, _) in times if i.startswith("qasr_")})
    out = sys.stdout
    out.write("| M | N | K | thr | weights | impl | time (us) | " +
              " | ".join(f"vs {b}" for b in BASELINES) + " | of membw (cache / DRAM) |\n")
    out.write("|" + "---|" * (8 + len(BASELINES)) + "\n")
    chart = defaultdict(dict)
    for key in keys:
        m, n, k, t, stream = key
        for impl in impls:
            if (impl, key) not in times:
                continue
            mine = times[(impl, key)]
            ratios = []
            for b in BASELINES:
                base = times.get((b, key))
                ratios.append(f"{base / mine:.2f}x" if base else "-")
                if base and b == "onednn_f32" and t == 1:
                    chart[impl][f"M{m} {k}x{n}" + (" stream" if stream else "")] = base / mine
            rate = bw.get((impl, key), 0.0)
            weight_bytes = rate * mine * 1e-6
            probe = cache_probe(membw, weight_bytes)
            frac = []
            if probe and not stream:  # streamed weights come from DRAM, not a cache
                frac.append(f"{rate / probe:.0%}")
            if "dram" in membw:
                frac.append(f"{rate / membw['dram']:.0%}")
            where = "DRAM" if stream else "cached"
            out.write(f"| {m} | {n} | {k} | {t} | {where} | {impl} | {mine:.1f} | " +
                      " | ".join(ratios) +
                      f" | {' / '.join(frac) or '-'} |\n")
    scaling = thread_scaling(times)
    if scaling:
        out.write("\n| M | N | K | impl | 2 threads vs 1 |\n|---|---|---|---|---|\n")
        for (m, n, k), row in scaling:
            for impl, ratio in row:
                out.write(f"| {m} | {n} | {k} | {impl} | {ratio:.2f}x |\n")
    if membw:
        out.write("\nmembw/read: " + ", ".join(f"{s}: {v / 1e9:.1f} GB/s"
                                              for s, v in sorted(membw.items())) + "\n")
    if args.png and chart:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        labels = sorted({l for d in chart.values() for l in d},
                        key=lambda s: (int(s.split()[0][1:]), s))
        fig, ax = plt.subplots(figsize=(max(8, len(labels) * 0.6), 4.5))
        width = 0.8 / len(chart)
        for i, (impl, d) in enumerate(sorted(chart.items())):
            xs = [j + i * width for j in range(len(labels))]
            ax.bar(xs, [d.get(l, 0) for l in labels], width, label=impl)
        ax.set_xticks([j + 0.4 - width / 2 for j in range(len(labels))])
        ax.set_xticklabels(labels, rotation=60, ha="right", fontsize=7)
        ax.axhline(1.0, color="k", lw=0.5)
        ax.set_ylabel("speedup vs oneDNN f32 (1 thread)")
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(args.png, dpi=120)
    return 0


if __name__ == "__main__":
    sys.exit(main())
