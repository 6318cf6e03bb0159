"""Makes a ~100 MB transformer-shaped safetensors file (if missing) and times the safetensors package on it.

Usage: python benchmarks/weight_files.py FILE [REPEATS]
"""
import os
import sys
import time

import numpy as np
import safetensors
import safetensors.numpy

path = sys.argv[1]
repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 5
if not os.path.exists(path):
    rng = np.random.default_rng(0)
    tensors = {}
    for layer in range(3):  # BERT-base-like blocks plus an embedding: about 110 MB in float32
        p = f"encoder.layer.{layer}."
        for name in ("query", "key", "value", "output"):
            tensors[p + f"attention.{name}.weight"] = rng.standard_normal((768, 768), dtype=np.float32)
            tensors[p + f"attention.{name}.bias"] = rng.standard_normal(768, dtype=np.float32)
        tensors[p + "intermediate.dense.weight"] = rng.standard_normal((3072, 768), dtype=np.float32)
        tensors[p + "output.dense.weight"] = rng.standard_normal((768, 3072), dtype=np.float32)
        tensors[p + "LayerNorm.weight"] = np.ones(768, dtype=np.float32)
    tensors["embeddings.word_embeddings.weight"] = rng.standard_normal((8192, 768), dtype=np.float32)
    safetensors.numpy.save_file(tensors, path)


def timed(fn):
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def keys():
    with safetensors.safe_open(path, framework="numpy") as f:
        return list(f.keys())


size = os.path.getsize(path)
open_s = timed(keys)
load_s = timed(lambda: safetensors.numpy.load_file(path))
print(f"python safetensors {safetensors.__version__} file={os.path.basename(path)} bytes={size} "
      f"open_median_s={open_s:.5f} load_all_median_s={load_s:.4f} load_all_gbps={size / load_s / 1e9:.2f}")
