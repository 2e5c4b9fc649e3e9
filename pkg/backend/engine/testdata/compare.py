#!/usr/bin/env python3
"""Engine v2 against PyTorch on the same CPU, back to back (`make bench-compare`).

Runs, in this order, each phase bracketed by a read of the host's CPU steal
(/proc/stat: a number taken while the hypervisor gives our cores away is not a
result):
  1. the measured fp32 peak (BenchmarkFMAPeak, pkg/backend/kernels);
  2. the 3x3 convolution 64->64, 32x32, batch 32: our kernel alone
     (BenchmarkConv2DForward), engines v1 and v2 through GoMLX
     (BenchmarkConv3x3, pkg/backend/engine), then PyTorch's;
  3. the CIFAR ResNet-18 training step (models/resnet BenchmarkTrainStep) on
     engines v1 and v2, then PyTorch's (models/resnet/testdata/pytorch_trainstep.py);
  4. the CIFAR MobileNetV2 (width 0.5, batch 96) training step, full precision
     and with DoReFa W6A6G6 fake quantizers (models/mobilenetv2), then
     PyTorch's with the same quantizers as autograd functions
     (models/mobilenetv2/testdata/pytorch_trainstep.py).
and prints one Markdown table: our figure, PyTorch's, the ratio, percent of the
measured peak, and the steal during each side. Then
  5. alternating pairs (--pairs N, default 5) for the steps the engine's
     targets name: ResNet-18 width 1 batch 32 and width 1/4 batch 128, and
     MobileNetV2 width 0.5 batch 96 (full precision and DoReFa W6A6G6 in
     each side's one run): ours, then PyTorch's, then PyTorch's, then ours,
     ... each side timed in a process of its own seconds after the other, and
     a second table with every pair's ratio and their median.
Why the pairs: this shared host's speed moves by up to a third within minutes
with no steal reported, and in phases 3 and 4 the two sides of a row run
minutes apart (all of ours, then all of PyTorch's), so one slow phase on one
side moves that row's ratio by as much as the engine's margin. A pair's two
sides run within seconds of each other, and alternating which side goes first
cancels a steady drift.

PyTorch runs with glibc's malloc told to keep freed memory (TORCH_MALLOC:
mmap threshold 256 MiB, trim threshold 1 GiB; the script re-executes itself
with them, so its in-process convolution gets them too, and the Go side runs
without them). With glibc's defaults, each of PyTorch's large tensors is a
fresh mmap, faulted in and zeroed on every step until freed chunks raise the
dynamic threshold: measured 2026-12-04, PyTorch's width-1/4 batch-128 step
read 340-454 images/s alone in a process and 818-837 with these settings
(783-907 as the fourth case of the four-case script, after the width-1 cases
had raised the threshold), its width-1 batch-32 step 51-65 against 79. A
comparison with PyTorch slowed by its allocator is not one with PyTorch.
`--torch-malloc default` runs PyTorch with glibc's defaults, as every run
before 2026-12-04 did.

Usage (from the repository root; the Makefile sets GOTOOLCHAIN/GOEXPERIMENT):
  /usr/bin/python3 pkg/backend/engine/testdata/compare.py [--quick] [--pairs N]
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import time


def steal_ticks():
    with open("/proc/stat") as f:
        fields = f.readline().split()[1:]
    ticks = [int(x) for x in fields]
    return ticks[7], sum(ticks[:8])


class Phase:
    """Measures the steal share of the CPU time while a block runs."""

    def __enter__(self):
        self.start = steal_ticks()
        return self

    def __exit__(self, *exc):
        steal, total = steal_ticks()
        d_total = max(total - self.start[1], 1)
        self.steal = 100.0 * (steal - self.start[0]) / d_total


TORCH_MALLOC = {"MALLOC_MMAP_THRESHOLD_": str(256 << 20), "MALLOC_TRIM_THRESHOLD_": str(1 << 30)}


def go_env(extra=None):
    """The environment of a Go benchmark: this process's, without TORCH_MALLOC."""
    env = {k: v for k, v in os.environ.items() if k not in TORCH_MALLOC}
    env.update(extra or {})
    return env


BENCH_LINE = re.compile(r"^(Benchmark\S+?)(?:-\d+)?\s+\d+\s+[\d.]+ ns/op(.*)$")


def go_bench(pkg, pattern, benchtime, env=None):
    """Runs go benchmarks; returns {name: {unit: value}}."""
    cmd = ["go", "test", "-run", "^$", "-bench", pattern, "-benchtime", benchtime, pkg]
    full_env = go_env(env)
    print("$", " ".join(cmd), flush=True)
    out = subprocess.run(cmd, env=full_env, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"benchmark failed:\n{out.stdout}\n{out.stderr}")
    results = {}
    for line in out.stdout.splitlines():
        m = BENCH_LINE.match(line)
        if not m:
            continue
        print("  " + line.strip(), flush=True)
        metrics = {}
        pairs = m.group(2).split()
        for value, unit in zip(pairs[0::2], pairs[1::2]):
            metrics[unit] = float(value)
        results[m.group(1)] = metrics
    return results


def per_engine(pkg, benchtime):
    """Runs a package's TrainStep benchmarks for engines v1 and v2, each in a
    process of its own, as a user runs one engine: after engine v1's steps
    in the same process, engine v2's MobileNetV2 step read 17% fewer images/s
    (203.7 against 245.1, 2026-12-03)."""
    res = {}
    for engine in ("purego:v1", "purego:v2"):
        # go test splits -bench patterns at "/": one level per name part.
        res.update(go_bench(pkg, f"TrainStep/^{engine}$/", benchtime))
    return res


def torch_conv(threads, reps):
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(threads)
    best = {}
    flops = 2.0 * 32 * 32 * 32 * 64 * 64 * 9
    for fmt in (torch.contiguous_format, torch.channels_last):
        x = torch.randn(32, 64, 32, 32).to(memory_format=fmt)
        w = torch.randn(64, 64, 3, 3).to(memory_format=fmt)
        for mode in ("forward", "forward+backward"):
            def run():
                if mode == "forward":
                    with torch.no_grad():
                        F.conv2d(x, w, padding=1)
                    return
                xg, wg = x.detach().requires_grad_(), w.detach().requires_grad_()
                y = F.conv2d(xg, wg, padding=1)
                (y * y).sum().backward()
            for _ in range(3):
                run()
            t0 = time.perf_counter()
            for _ in range(reps):
                run()
            dt = (time.perf_counter() - t0) / reps
            passes = 1 if mode == "forward" else 3
            best[mode] = max(best.get(mode, 0), passes * flops / dt / 1e9)
    return best


def torch_script(model, threads, steps, extra=()):
    """Runs a model's PyTorch script (with extra arguments); returns {line key: images/s}."""
    script = os.path.join("models", model, "testdata", "pytorch_trainstep.py")
    print("$ python3", script, flush=True)
    out = subprocess.run([sys.executable, script, "--threads", str(threads), "--steps", str(steps), *extra],
                         capture_output=True, text=True, check=True).stdout
    res = {}
    for line in out.splitlines():
        print("  " + line, flush=True)
        m = re.match(r"pytorch (?:mobilenetv2 )?(width=[\d.]+ batch=\d+(?: \S+)?): ([\d.]+) images/s", line)
        if m:
            res[m.group(1)] = float(m.group(2))
    return res


PAIR_CASES = (("1", 32), ("0.25", 128))


def go_resnet_step(width, batch, steps):
    """Engine v2's images/s for one ResNet-18 training step case."""
    res = go_bench("./models/resnet/", f"TrainStep/^purego:v2$/^width={width}$/^batch={batch}$", steps,
                   env={"MLSYSREP_BENCH_ENGINES": "purego:v2"})
    if len(res) != 1:
        sys.exit(f"expected one benchmark for width={width} batch={batch}, got {sorted(res)}")
    return next(iter(res.values()))["images/s"]


def torch_resnet_step(width, batch, threads, steps):
    """PyTorch's images/s for one ResNet-18 training step case."""
    res = torch_script("resnet", threads, steps, ["--width", width, "--batch", str(batch)])
    if len(res) != 1:
        sys.exit(f"expected one PyTorch figure for width={width} batch={batch}, got {sorted(res)}")
    return next(iter(res.values()))


def go_mobilenet_steps(steps):
    """Engine v2's images/s for MobileNetV2's training steps: {method: images/s}."""
    res = go_bench("./models/mobilenetv2/", "TrainStep/^purego:v2$/^width=0.5$/^batch=96$/", steps,
                   env={"MLSYSREP_BENCH_ENGINES": "purego:v2"})
    return {name.split("/")[-1]: m["images/s"] for name, m in res.items()}


def torch_mobilenet_steps(threads, steps):
    """PyTorch's images/s for the same steps: {method: images/s}."""
    return {key.split()[-1]: v for key, v in torch_script("mobilenetv2", threads, steps).items()}


def run_pair(i, ours, torch):
    """Pair i of an alternating series: ours first when i is even. Returns
    ({"ours": ours(), "torch": torch()}, the label of the pair, the steal over it)."""
    order = ("ours", "torch") if i % 2 == 0 else ("torch", "ours")
    sides = {}
    with Phase() as p:
        for side in order:
            sides[side] = ours() if side == "ours" else torch()
    return sides, f"{i + 1} ({' then '.join(order)})", p.steal


def pair_row(case, label, ours, theirs, steal):
    """One pair's row of the pairs table."""
    return (case, label, f"{ours:.1f}", f"{theirs:.1f}", f"{ours / theirs:.2f}x", f"{steal:.1f}%")


def median_row(case, ratios):
    """The median row of a case's pairs."""
    return (case, "**median**", "", "", f"**{statistics.median(ratios):.2f}x** ({min(ratios):.2f}-{max(ratios):.2f}x)", "")


def mobilenet_pairs(n, threads, quick):
    """Phase 5 for MobileNetV2: each side runs both methods; one row per method and pair."""
    rows, ratios = [], {}
    for i in range(n):
        sides, label, steal = run_pair(i, lambda: go_mobilenet_steps("1x" if quick else "5x"),
                                       lambda: torch_mobilenet_steps(threads, 1 if quick else 5))
        for method, ours in sorted(sides["ours"].items()):
            theirs = sides["torch"].get(method)
            if not theirs:
                continue
            ratios.setdefault(method, []).append(ours / theirs)
            rows.append(pair_row(f"MobileNetV2 train step width=0.5 batch=96 {method}", label, ours, theirs, steal))
    for method, rs in sorted(ratios.items()):
        rows.append(median_row(f"MobileNetV2 train step width=0.5 batch=96 {method}", rs))
    return rows


def alternating_pairs(n, threads, quick):
    """Phase 5: n pairs per case, the side that goes first alternating."""
    rows = []
    for width, batch in PAIR_CASES:
        case, ratios = f"ResNet-18 train step width={width} batch={batch}", []
        for i in range(n):
            sides, label, steal = run_pair(i, lambda: go_resnet_step(width, batch, "2x" if quick else "5x"),
                                           lambda: torch_resnet_step(width, batch, threads, 3 if quick else 10))
            ratios.append(sides["ours"] / sides["torch"])
            rows.append(pair_row(case, label, sides["ours"], sides["torch"], steal))
        rows.append(median_row(case, ratios))
    return rows + mobilenet_pairs(n, threads, quick)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke run, not a result)")
    ap.add_argument("--pairs", type=int, default=5, help="alternating pairs per target case (0: none)")
    ap.add_argument("--torch-malloc", choices=("tuned", "default"), default="tuned",
                    help="PyTorch's glibc malloc: tuned (TORCH_MALLOC) or glibc's defaults (the runs before 2026-12-04)")
    ap.add_argument("--only-pairs", action="store_true", help="run phase 5 (the alternating pairs) alone")
    args = ap.parse_args()
    if args.torch_malloc == "tuned" and any(os.environ.get(k) != v for k, v in TORCH_MALLOC.items()):
        os.execve(sys.executable, [sys.executable] + sys.argv, dict(os.environ, **TORCH_MALLOC))
    threads = os.cpu_count()
    print(f"PyTorch's malloc: {args.torch_malloc}", flush=True)
    if args.only_pairs:
        print_pairs(max(args.pairs, 1), threads, args.quick)
        return
    reps = "3x" if args.quick else "20x"
    steps = "2x" if args.quick else "5x"
    rows = []

    # The peak runs for seconds (a short run reads low: clocks ramp up) and
    # again at the end; percentages are of the higher reading.
    with Phase() as p:
        peak = go_bench("./pkg/backend/kernels/", "FMAPeak", "200ms" if args.quick else "2s")
    peak_first = next(iter(peak.values()))["GFLOP/s"]
    peak_steal = p.steal

    with Phase() as p:
        kern = go_bench("./pkg/backend/kernels/", "Conv2DForward", reps)
        conv = go_bench("./pkg/backend/engine/", "Conv3x3", reps)
    ours_steal = p.steal
    with Phase() as p:
        tconv = torch_conv(threads, 20 if not args.quick else 3)
    torch_steal = p.steal

    def conv_row(label, ours, theirs):
        rows.append((label, f"{ours:.1f} GFLOP/s", f"{theirs:.1f} GFLOP/s", f"{ours / theirs:.2f}x",
                     f"pct:{ours}", f"{ours_steal:.1f}%", f"{torch_steal:.1f}%"))

    for name, m in kern.items():
        if "3x3" in name or "64" in name:
            conv_row(f"conv 3x3 64->64 forward, kernel alone ({name.split('/', 1)[-1]})", m["GFLOP/s"], tconv["forward"])
            break
    for name, m in conv.items():
        mode = "forward+backward" if name.endswith("forward+backward") else "forward"
        engine = name.split("/")[1]
        conv_row(f"conv 3x3 64->64 {mode}, {engine}", m["GFLOP/s"], tconv[mode])

    with Phase() as p:
        steps_res = per_engine("./models/resnet/", steps)
    ours_steal = p.steal
    with Phase() as p:
        tsteps = torch_script("resnet", threads, 3 if args.quick else 10)
    torch_steal = p.steal
    for name, m in steps_res.items():
        _, engine, width, batch = name.split("/")
        theirs = tsteps.get(f"{width} {batch}")
        ours = m["images/s"]
        rows.append((f"ResNet-18 train step {width} {batch}, {engine}", f"{ours:.1f} images/s",
                     f"{theirs:.1f} images/s" if theirs else "", f"{ours / theirs:.2f}x" if theirs else "",
                     f"pct:{m['GFLOP/s']}", f"{ours_steal:.1f}%", f"{torch_steal:.1f}%"))

    with Phase() as p:
        mb_res = per_engine("./models/mobilenetv2/", "1x" if args.quick else "5x")
    ours_steal = p.steal
    with Phase() as p:
        tmb = torch_script("mobilenetv2", threads, 1 if args.quick else 5)
    torch_steal = p.steal
    for name, m in mb_res.items():
        _, engine, width, batch, method = name.split("/")
        theirs = tmb.get(f"{width} {batch} {method}")
        ours = m["images/s"]
        rows.append((f"MobileNetV2 train step {width} {batch} {method}, {engine}", f"{ours:.1f} images/s",
                     f"{theirs:.1f} images/s" if theirs else "", f"{ours / theirs:.2f}x" if theirs else "",
                     "", f"{ours_steal:.1f}%", f"{torch_steal:.1f}%"))

    with Phase() as p:
        peak = go_bench("./pkg/backend/kernels/", "FMAPeak", "200ms" if args.quick else "2s")
    peak_last = next(iter(peak.values()))["GFLOP/s"]
    peak_gflops = max(peak_first, peak_last)
    isa = next(iter(peak)).split("/")[-1]  # avx512, or avx2 on a CPU without AVX-512
    rows.insert(0, (f"fp32 FMA peak ({isa} loop), first / last run", f"{peak_first:.0f} / {peak_last:.0f} GFLOP/s",
                    "", "", "100%", f"{peak_steal:.1f}% / {p.steal:.1f}%", ""))
    for i, r in enumerate(rows[1:], 1):
        if r[4].startswith("pct:"):
            rows[i] = r[:4] + (f"{100 * float(r[4][4:]) / peak_gflops:.0f}%",) + r[5:]

    print_table(f"threads: {threads}",
                ("case", "ours", "PyTorch", "ours / PyTorch", "ours, % of peak", "steal (ours)", "steal (PyTorch)"), rows)

    if args.pairs > 0:
        print(flush=True)
        print_pairs(args.pairs, threads, args.quick)


def print_pairs(n, threads, quick):
    print_table("alternating pairs, engine v2 against PyTorch",
                ("case", "pair (which side ran first)", "ours, images/s", "PyTorch, images/s", "ours / PyTorch",
                 "steal over the pair"), alternating_pairs(n, threads, quick))


def print_table(title, header, rows):
    """Prints a titled, dated Markdown table."""
    print()
    print(f"{title}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for r in rows:
        print("| " + " | ".join(r) + " |")


if __name__ == "__main__":
    main()
