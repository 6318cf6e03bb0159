"""numpy's GEMM at the sizes the Swift benchmark uses; thread count fixed by OPENBLAS_NUM_THREADS before import."""
import os
import sys
import time

import numpy as np

repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 10
threads = int(os.environ.get("OPENBLAS_NUM_THREADS", "0"))
rng = np.random.default_rng(1)
for n in (1024, 2048):
    for dtype in (np.float32, np.float64):
        a = rng.standard_normal((n, n)).astype(dtype)
        b = rng.standard_normal((n, n)).astype(dtype)
        c = np.empty((n, n), dtype=dtype)
        np.matmul(a, b, out=c)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            np.matmul(a, b, out=c)
            times.append(time.perf_counter() - start)
        times.sort()
        flops = 2.0 * n ** 3
        print(f"numpy gemm dtype={np.dtype(dtype).name} n={n} threads={threads} median_s={times[len(times) // 2]:.5f} "
              f"gflops={flops / times[len(times) // 2] / 1e9:.1f} best_gflops={flops / times[0] / 1e9:.1f}")
