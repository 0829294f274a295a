"""PyTorch side of bench/gpu.bench.ts: the same measurements on the same data, same device kind.

Usage: python3 torch_peer.py <folder>   (reads <folder>/cases.json and <folder>/data.bin, writes
<folder>/torch.json and <folder>/torch-grads.bin; prints progress on stderr).
CUDA when available (fp32, TF32 off), else the CPU. Timings: a warm-up, one call to size the
rounds, then `reps` rounds of as many calls as fill ~targetMs, synchronised at the end of each
round; the median per call. A case that fails is recorded with its error; cases past the time
budget are skipped.
"""
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F


def main():
    folder = sys.argv[1]
    spec = json.load(open(os.path.join(folder, 'cases.json')))
    device = torch.device('cuda' if torch.cuda.is_available() and os.environ.get('GPU_BENCH_TORCH_CPU') != '1' else 'cpu')
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.benchmark = True
    raw = np.fromfile(os.path.join(folder, 'data.bin'), dtype=np.float32)

    def arr(entry):
        off, shape = entry['offset'], entry['shape']
        n = int(np.prod(shape))
        return torch.from_numpy(raw[off:off + n].reshape(shape).copy()).to(device)

    def sync():
        if device.type == 'cuda':
            torch.cuda.synchronize()

    target = spec.get('targetMs', 100) / 1000
    budget = spec.get('budgetSeconds', 600)

    def timed(f, reps):
        """Warm-up, one timed call to size the rounds, then `reps` rounds filling ~targetMs each."""
        out = f()
        sync()
        t0 = time.perf_counter()
        out = f()
        sync()
        once = time.perf_counter() - t0
        inner = max(1, min(50, round(target / max(once, 1e-6))))
        times = []
        for _ in range(1 if once > 3 else reps):
            t0 = time.perf_counter()
            for _ in range(inner):
                out = f()
            sync()
            times.append((time.perf_counter() - t0) * 1000 / inner)
        return float(np.median(times)), out

    torch.ones(64, 64) @ torch.ones(64, 64)  # loads the CPU BLAS
    info = {
        'torch': torch.__version__,
        'device': torch.cuda.get_device_name() if device.type == 'cuda' else 'CPU',
        'threads': torch.get_num_threads(),
        'blas': loaded_blas(),
        'tf32': 'off (allow_tf32 = False for matmul and cuDNN)' if device.type == 'cuda' else 'n/a (CPU)',
    }
    results = {}
    grads_out = open(os.path.join(folder, 'torch-grads.bin'), 'wb')
    grads_offset = 0
    started = time.perf_counter()
    for case in spec['cases']:
        kind, cid = case['kind'], case['id']
        if time.perf_counter() - started > budget:
            results[cid] = {'error': f'not measured: the time budget ({budget} s) was spent'}
            continue
        print(f'torch: {cid}', file=sys.stderr, flush=True)
        t_case = time.perf_counter()
        try:
            results[cid] = run_case(case, kind, arr, timed, device, sync)
        except Exception as e:  # one failing case must not lose the others
            print(f'torch: {cid} failed: {e!r}', file=sys.stderr, flush=True)
            results[cid] = {'error': repr(e)}
            continue
        r = results[cid]
        if 'grads' in r:
            g = np.concatenate([t.reshape(-1) for t in r.pop('grads')]).astype(np.float32)
            r['gradOffset'] = grads_offset
            grads_out.write(g.tobytes())
            grads_offset += g.size
        r['seconds'] = time.perf_counter() - t_case
        if device.type == 'cuda':
            torch.cuda.empty_cache()
    grads_out.close()
    json.dump({'info': info, 'results': results}, open(os.path.join(folder, 'torch.json'), 'w'))


def run_case(case, kind, arr, timed, device, sync):
    """One case: its timing and the values the TypeScript side checks."""
    inp = {k: arr(v) for k, v in case['inputs'].items()}
    reps = case.get('reps', 3)
    r = {}
    with torch.no_grad():
        if kind == 'matmul':
            a, b = inp['a'], inp['b']
            r['ms'], out = timed(lambda: a @ b, reps)
            r['samples'] = sample(out, case['samples'])
            if device.type == 'cuda':
                # For the record only (the goals are against fp32): the same product with TF32.
                torch.backends.cuda.matmul.allow_tf32 = True
                try:
                    r['msTf32'], _ = timed(lambda: a @ b, reps)
                finally:
                    torch.backends.cuda.matmul.allow_tf32 = False
        elif kind in ('conv', 'convBackInput', 'convBackFilter'):
            x = inp['x'].permute(0, 3, 1, 2).contiguous()
            w = inp['w'].permute(3, 2, 0, 1).contiguous()
            dy = inp['dy'].permute(0, 3, 1, 2).contiguous()
            pad = (w.shape[2] - 1) // 2
            if kind == 'conv':
                f = lambda: F.conv2d(x, w, padding=pad)
            elif kind == 'convBackInput':
                f = lambda: torch.ops.aten.convolution_backward(dy, x, w, None, [1, 1], [pad, pad], [1, 1], False, [0, 0], 1, [True, False, False])[0]
            else:
                f = lambda: torch.ops.aten.convolution_backward(dy, x, w, None, [1, 1], [pad, pad], [1, 1], False, [0, 0], 1, [False, True, False])[1]
            r['ms'], out = timed(f, reps)
            # Back to the layouts of TensorFlow.js (NHWC, HWIO) to sample the same entries.
            out = out.permute(2, 3, 1, 0) if kind == 'convBackFilter' else out.permute(0, 2, 3, 1)
            r['samples'] = sample(out, case['samples'])
        elif kind in ('cka', 'ckaDebiased'):
            x, y = inp['x'], inp['y']
            f = (lambda: linear_cka(x, y)) if kind == 'cka' else (lambda: debiased_cka(x, y))
            r['ms'], v = timed(lambda: f().item(), reps)
            r['value'] = v
            r['f64'] = (linear_cka(x.double(), y.double()) if kind == 'cka' else debiased_cka(x.double(), y.double())).item()
        elif kind == 'heatmap':
            ma = [inp[f'a{i}'] for i in range(case['modules'])]
            mb = [inp[f'b{i}'] for i in range(case['modules'])]
            r['ms'], vals = timed(lambda: heatmap(ma, mb), reps)
            r['values'] = vals
            r['f64'] = heatmap([m.double() for m in ma], [m.double() for m in mb])
        elif kind == 'minibatch':
            if device.type == 'cuda':
                torch.cuda.reset_peak_memory_stats()
            r['ms'], vals = timed(lambda: minibatch(inp, case, torch.float32), reps)
            r['values'] = vals
            r['f64'] = minibatch(inp, case, torch.float64)
            if device.type == 'cuda':
                r['peakMiB'] = torch.cuda.max_memory_allocated() / 2**20
    if kind in ('trainCnn', 'trainResnet'):
        r.update(train(case, inp, device, sync))
    return r


def loaded_blas():
    """The BLAS libraries this process loaded (a reference BLAS makes a crippled CPU peer)."""
    try:
        with open('/proc/self/maps') as f:
            paths = {'/'.join(l.split()[-1].split('/')[-2:]) for l in f if '/' in l and any(k in l.lower() for k in ('blas', 'mkl', 'lapack'))}
        return ', '.join(sorted(paths)) or 'none loaded'
    except OSError:
        return 'unknown'


def sample(t, idx):
    flat = t.reshape(-1)
    return flat[torch.tensor(idx, dtype=torch.long, device=t.device)].double().cpu().tolist()


def centre(x):
    return x - x.mean(0, keepdim=True)


def linear_cka(x, y):
    x, y = centre(x), centre(y)
    return torch.linalg.norm(y.T @ x) ** 2 / (torch.linalg.norm(x.T @ x) * torch.linalg.norm(y.T @ y))


def hsic1(k, l):
    """Unbiased HSIC (Song et al. 2012) of Gram matrices with zeroed diagonals, times n(n−3)."""
    n = k.shape[0]
    k = k - torch.diag(torch.diag(k))
    l = l - torch.diag(torch.diag(l))
    kl = (k * l).sum()
    sk, sl = k.sum(), l.sum()
    return kl + sk * sl / ((n - 1) * (n - 2)) - 2 * (k.sum(0) @ l.sum(0)) / (n - 2)


def debiased_cka(x, y):
    k, l = x @ x.T, y @ y.T
    return hsic1(k, l) / torch.sqrt(hsic1(k, k) * hsic1(l, l))


def heatmap(a, b):
    ga = [(lambda c: c @ c.T)(centre(x)).reshape(-1) for x in a]
    gb = [(lambda c: c @ c.T)(centre(y)).reshape(-1) for y in b]
    na = torch.stack([torch.linalg.norm(g) for g in ga])
    nb = torch.stack([torch.linalg.norm(g) for g in gb])
    cross = torch.stack([torch.stack([ga[i] @ gb[j] for j in range(len(gb))]) for i in range(len(ga))])
    return (cross / (na[:, None] * nb[None, :])).cpu().tolist()


def minibatch(inp, case, dtype):
    """Minibatch CKA (Nguyen et al. 2021): features relu(Z_b · W) per batch, Σ m·HSIC₁ / (m − 3) weights."""
    z = inp['z'].to(dtype)
    wa = [inp[f'wa{i}'].to(dtype) for i in range(case['modules'])]
    wb = [inp[f'wb{i}'].to(dtype) for i in range(case['modules'])]
    q = len(wa)
    cross = torch.zeros(q, q, dtype=torch.float64, device=z.device)
    sa = torch.zeros(q, dtype=torch.float64, device=z.device)
    sb = torch.zeros(q, dtype=torch.float64, device=z.device)
    m = case['batch']
    for s in range(0, z.shape[0], m):
        zb = z[s:s + m]
        ka = [(lambda f: f @ f.T)(torch.relu(zb @ w)) for w in wa]
        kb = [(lambda f: f @ f.T)(torch.relu(zb @ w)) for w in wb]
        n = zb.shape[0]
        for i in range(q):
            sa[i] += hsic1(ka[i], ka[i]).double() / (n - 3)
            sb[i] += hsic1(kb[i], kb[i]).double() / (n - 3)
            for j in range(q):
                cross[i, j] += hsic1(ka[i], kb[j]).double() / (n - 3)
    return (cross / torch.sqrt(sa[:, None] * sb[None, :])).cpu().tolist()


def same_pad(h, k, stride):
    """TensorFlow's 'same' padding (the extra row and column at the end) for a stride > 1."""
    n = h.shape[2]
    total = max((math.ceil(n / stride) - 1) * stride + k - n, 0)
    top = total // 2
    return F.pad(h, (top, total - top, top, total - top))


def conv(h, w, stride):
    k = w.shape[2]
    if stride == 1:
        return F.conv2d(h, w, padding=(k - 1) // 2)
    return F.conv2d(same_pad(h, k, stride), w, stride=stride)


def cnn_forward(p, x, cfg):
    h = x
    for i in range(len(cfg['channels'])):
        h = F.max_pool2d(F.relu(F.conv2d(h, p[f'conv{i + 1}/kernel'], p[f'conv{i + 1}/bias'], padding=1)), 2, ceil_mode=True)
    f = h.permute(0, 2, 3, 1).flatten(1)  # TensorFlow.js flattens NHWC
    if cfg['hidden'] > 0:
        f = F.relu(f @ p['fc1/kernel'] + p['fc1/bias'])
    return f @ p['fc/kernel'] + p['fc/bias']


def resnet_forward(p, x, cfg):
    def bn(h, prefix):
        return F.batch_norm(h, None, None, p[f'{prefix}/gamma'], p[f'{prefix}/beta'], training=True, eps=1e-5)

    imagenet = cfg.get('stem') == 'imagenet'
    h = F.relu(bn(conv(x, p['conv1/kernel'], 2 if imagenet else 1), 'conv1/bn'))
    if imagenet:
        # ResNet-18's max-pool, 3x3 stride 2, with TensorFlow's 'same' padding (-inf at the end).
        n = h.shape[2]
        total = max((math.ceil(n / 2) - 1) * 2 + 3 - n, 0)
        top = total // 2
        h = F.max_pool2d(F.pad(h, (top, total - top, top, total - top), value=float('-inf')), 3, 2)
    ch = cfg['width']
    for s, blocks in enumerate(cfg['blocks']):
        out = cfg['width'] * 2**s
        for b in range(blocks):
            q = f'layer{s + 1}/block{b}'
            stride = 2 if s > 0 and b == 0 else 1
            y = F.relu(bn(conv(h, p[f'{q}/conv1/kernel'], stride), f'{q}/bn1'))
            y = bn(conv(y, p[f'{q}/conv2/kernel'], 1), f'{q}/bn2')
            sc = bn(conv(h, p[f'{q}/shortcut/kernel'], stride), f'{q}/shortcut/bn') if (stride != 1 or ch != out) else h
            h = F.relu(y + sc)
            ch = out
    return h.mean((2, 3)) @ p['fc/kernel'] + p['fc/bias']


def train(case, inp, device, sync):
    """Gradients of the first batch from TransferLab's weights (the check), then timed SGD steps."""
    cfg = case['config']
    forward = cnn_forward if case['kind'] == 'trainCnn' else resnet_forward
    names = case['weights']
    # Our layouts: conv kernels HWIO → OIHW; dense kernels [in, out] are used as they are.
    def to_torch(name, t):
        return t.permute(3, 2, 0, 1).contiguous() if t.dim() == 4 else t
    p = {n: to_torch(n, inp[f'w:{n}']).requires_grad_(True) for n in names}
    x = inp['x'].permute(0, 3, 1, 2).contiguous()
    y = inp['y'].long()
    batch = case['batch']
    loss = F.cross_entropy(forward(p, x[:batch], cfg), y[:batch])
    loss.backward()
    grads = [(p[n].grad.permute(2, 3, 1, 0) if p[n].dim() == 4 else p[n].grad).detach().cpu().numpy() for n in names]
    loss0 = loss.item()
    for t in p.values():
        t.grad = None
    opt = torch.optim.SGD(list(p.values()), lr=case['lr'], momentum=0.9)
    n = x.shape[0]
    if device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats()

    def epoch():
        perm = torch.randperm(n, device=device)
        for i in range(0, n - batch + 1, batch):
            idx = perm[i:i + batch]
            opt.zero_grad(set_to_none=True)
            l = F.cross_entropy(forward(p, x[idx], cfg), y[idx])
            l.backward()
            opt.step()
        return l

    epoch()  # warm-up (cuDNN autotuning)
    sync()
    rounds = []
    for _ in range(case['rounds']):
        t0 = time.perf_counter()
        l = epoch()
        last = l.item()
        sync()
        rounds.append((n // batch) * batch / (time.perf_counter() - t0))
    out = {'exs': float(np.median(rounds)), 'rounds': rounds, 'loss0': loss0, 'lossLast': last, 'grads': grads}
    if device.type == 'cuda':
        out['peakMiB'] = torch.cuda.max_memory_allocated() / 2**20
    return out


if __name__ == '__main__':
    main()
