"""PyTorch (CUDA) side of bench/gpu/gpu.bench.ts: same measurements on the same data file."""
import json
import sys
import time

import numpy as np
import torch


def load(path, device):
    with open(path, 'rb') as f:
        header = json.loads(f.readline())
        arrays = {}
        for name, shape in header['arrays']:
            count = int(np.prod(shape))
            arrays[name] = torch.from_numpy(np.frombuffer(f.read(4 * count), dtype=np.float32).reshape(shape).copy()).to(device)
    return header, arrays


def timed(f, reps, device):
    f()
    if device.type == 'cuda':
        torch.cuda.synchronize()
    times, out = [], None
    for _ in range(reps):
        t0 = time.perf_counter()
        out = f()
        if device.type == 'cuda':
            torch.cuda.synchronize()
        times.append((time.perf_counter() - t0) * 1000)
    return float(np.median(times)), out


def centre(x):
    return x - x.mean(0, keepdim=True)


def linear_cka(x, y):
    x, y = centre(x), centre(y)
    return (torch.linalg.norm(y.T @ x) ** 2 / (torch.linalg.norm(x.T @ x) * torch.linalg.norm(y.T @ y))).item()


def heatmap(a, b):
    ga = [(lambda c: c @ c.T)(centre(x)).reshape(-1) for x in a]
    gb = [(lambda c: c @ c.T)(centre(y)).reshape(-1) for y in b]
    na = [torch.linalg.norm(g) for g in ga]
    nb = [torch.linalg.norm(g) for g in gb]
    return [[(ga[i] @ gb[j] / (na[i] * nb[j])).item() for j in range(len(gb))] for i in range(len(ga))]


def main():
    device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    header, arr = load(sys.argv[1], device)
    out = {'torch': torch.__version__, 'device': torch.cuda.get_device_name() if device.type == 'cuda' else 'CPU'}
    with torch.no_grad():
        a = arr['matmul']
        out['matmul_ms'], _ = timed(lambda: a @ a, 5, device)
        for k in range(header['pairs']):
            x, y = arr[f'x{k}'], arr[f'y{k}']
            out[f'cka{k}_ms'], out[f'cka{k}'] = timed(lambda: linear_cka(x, y), 5, device)
        ma = [arr[f'a{i}'] for i in range(header['modules'])]
        mb = [arr[f'b{i}'] for i in range(header['modules'])]
        out['heat_ms'], heat = timed(lambda: heatmap(ma, mb), 1, device)
        f64 = heatmap([m.double() for m in ma], [m.double() for m in mb])
        out['heat_f64'] = f64
        out['heat_err'] = max(abs(heat[i][j] - f64[i][j]) for i in range(len(f64)) for j in range(len(f64[0])))
    print(json.dumps(out))


if __name__ == '__main__':
    main()
