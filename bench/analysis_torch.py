"""PyTorch side of bench/analysis.bench.ts: the same measurements on the same data.

Reads the data file the TypeScript side wrote (a JSON header line, then float32 arrays), prints
one JSON object with timings (ms) and CKA values. Run by the bench; usable alone:
    /usr/bin/python3 bench/analysis_torch.py bench/out/analysis-data.bin
"""
import json
import sys
import time

import numpy as np
import torch


def load(path):
    with open(path, 'rb') as f:
        header = json.loads(f.readline())
        arrays = {}
        for name, shape in header['arrays']:
            count = int(np.prod(shape))
            arrays[name] = torch.from_numpy(np.frombuffer(f.read(4 * count), dtype=np.float32).reshape(shape).copy())
    return header, arrays


def timed(f, reps):
    """Median wall time (ms), the result, and the median CPU time of the process (ms)."""
    times, cpus, out = [], [], None
    for _ in range(reps):
        c0 = time.process_time()
        t0 = time.perf_counter()
        out = f()
        times.append((time.perf_counter() - t0) * 1000)
        cpus.append((time.process_time() - c0) * 1000)
    timed.cpu = float(np.median(cpus))
    return float(np.median(times)), out


def centre(x):
    return x - x.mean(0, keepdim=True)


def linear_cka_features(x, y):
    """Kornblith et al.'s feature-space linear CKA (centred columns)."""
    x, y = centre(x), centre(y)
    return (torch.linalg.norm(y.T @ x) ** 2 / (torch.linalg.norm(x.T @ x) * torch.linalg.norm(y.T @ y))).item()


def heatmap_per_pair(a, b):
    """The usual loop: one linear CKA per pair, nothing shared between pairs."""
    return [[linear_cka_features(x, y) for y in b] for x in a]


def heatmap_cached(a, b):
    """Each module's centred Gram matrix once, then inner products of Gram matrices."""
    ga = [(lambda c: c @ c.T)(centre(x)).reshape(-1) for x in a]
    gb = [(lambda c: c @ c.T)(centre(y)).reshape(-1) for y in b]
    na = [torch.linalg.norm(g) for g in ga]
    nb = [torch.linalg.norm(g) for g in gb]
    return [[(ga[i] @ gb[j] / (na[i] * nb[j])).item() for j in range(len(gb))] for i in range(len(ga))]


def main():
    header, arr = load(sys.argv[1])
    out = {'torch': torch.__version__, 'threads': torch.get_num_threads()}
    with torch.no_grad():
        a = arr['matmul']
        out['matmul_ms'], _ = timed(lambda: a @ a, 7)
        out['matmul_cpu'] = timed.cpu
        x, y = arr['ckaX'], arr['ckaY']
        out['cka_ms'], out['cka'] = timed(lambda: linear_cka_features(x, y), 7)
        out['cka_cpu'] = timed.cpu
        out['cka_f64'] = linear_cka_features(x.double(), y.double())
        mods_a = [arr[f'a{i}'] for i in range(header['modules'])]
        mods_b = [arr[f'b{i}'] for i in range(header['modules'])]
        out['heat_cached_ms'], out['heat_cached'] = timed(lambda: heatmap_cached(mods_a, mods_b), 1)
        out['heat_cached_cpu'] = timed.cpu
        out['heat_pairs_ms'], out['heat_pairs'] = timed(lambda: heatmap_per_pair(mods_a, mods_b), 1)
        out['heat_pairs_cpu'] = timed.cpu
        out['heat_f64'] = heatmap_cached([m.double() for m in mods_a], [m.double() for m in mods_b])
        torch.set_num_threads(2)
        out['threads2'] = torch.get_num_threads()
        out['matmul2_ms'], _ = timed(lambda: a @ a, 7)
        out['heat_cached2_ms'], _ = timed(lambda: heatmap_cached(mods_a, mods_b), 1)
    print(json.dumps(out))


if __name__ == '__main__':
    main()
