"""Running one side of a side-by-side benchmark as a process of its own."""
import os, subprocess, time


def measured(arguments):
    """Runs a process; its stdout, wall seconds and peak resident memory in GiB (wait4's ru_maxrss)."""
    start = time.perf_counter()
    process = subprocess.Popen(arguments, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    out = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    if status != 0:
        raise RuntimeError(f"{' '.join(arguments[:3])} exited with status {status}")
    return out, time.perf_counter() - start, usage.ru_maxrss / 2**20
