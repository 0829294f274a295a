#!/usr/bin/env python3
"""Writes the files that sample-notebooks/bring-your-own.tsnb analyses, as a PyTorch or JAX user
would dump them, with plain NumPy (no torch, no jax):

  inputs.npy                  the examples, float64 (n, 12)
  activations_a.npz           model A's layers on them (np.savez_compressed): stem (n, 4, 4, 2),
                              stored in Fortran order, layer1 (n, 24), layer2 (n, 16)
  activations_b.npz           model B's layers (np.savez, big-endian float32): stem, A's stem
                              scaled and with its units permuted (the same representation: CKA 1);
                              layer1, random features of its own; layer2, noise unrelated to the
                              inputs (CKA near 0)
  pretrained.safetensors      P, a small ResNet's state_dict with PyTorch names and layouts
                              (conv weights OIHW, BatchNorm buffers, an int64 counter)
  finetuned_1.safetensors     P-T: P moved a little (more in higher layers), a new head fc
  finetuned_2.npz             another P-T run, saved in float16 (np.savez)
  scratch_1.npz               RI-T: a fresh initialisation trained as far (np.savez_compressed)
  scratch_2.safetensors       another RI-T run

The safetensors files are written by hand to the format's specification (8-byte little-endian
header length, a JSON header with dtype/shape/data_offsets and __metadata__, then the data).

usage: python3 make_byo.py OUTDIR [--n N] [--seed S]
"""
import argparse
import json
import os
import struct

import numpy as np

SAFETENSORS_DTYPES = {'float32': 'F32', 'float16': 'F16', 'float64': 'F64', 'int64': 'I64', 'int32': 'I32', 'uint8': 'U8', 'bool': 'BOOL'}


def write_safetensors(path, tensors, metadata=None):
    """Writes {name: array} as a .safetensors file (little-endian, C order, tensors back to back)."""
    header, blobs, offset = {}, [], 0
    if metadata:
        header['__metadata__'] = {k: str(v) for k, v in metadata.items()}
    for name, a in tensors.items():
        a = np.asarray(a)
        raw = a.astype(a.dtype.newbyteorder('<')).tobytes(order='C')
        header[name] = {'dtype': SAFETENSORS_DTYPES[a.dtype.name], 'shape': list(a.shape), 'data_offsets': [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(',', ':')).encode('utf-8')
    text += b' ' * (-len(text) % 8)  # pad so that the data starts at a multiple of 8 bytes
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def activations(rng, n):
    """The inputs and two models' activations, with a known structure (see the module's doc)."""
    centres = rng.standard_normal((4, 3)) * 3
    labels = rng.integers(0, 4, n)
    latent = centres[labels] + rng.standard_normal((n, 3)) * 0.7
    x = latent @ rng.standard_normal((3, 12)) + 0.1 * rng.standard_normal((n, 12))

    relu = lambda v: np.maximum(v, 0)
    stem = relu(x @ rng.standard_normal((12, 32)) / np.sqrt(12))
    a_layer1 = relu(stem @ rng.standard_normal((32, 24)) / np.sqrt(32))
    a_layer2 = relu(a_layer1 @ rng.standard_normal((24, 16)) / np.sqrt(24))
    acts_a = {
        'stem': np.asfortranarray(stem.reshape(n, 4, 4, 2).astype('<f4')),
        'layer1': a_layer1.astype('<f4'),
        'layer2': a_layer2.astype('<f4'),
    }
    perm = rng.permutation(32)
    b_stem = 2.0 * stem[:, perm]
    acts_b = {
        'stem': b_stem.reshape(n, 4, 4, 2).astype('>f4'),
        'layer1': relu(b_stem @ rng.standard_normal((32, 8)) / np.sqrt(32)).astype('>f4'),
        'layer2': rng.standard_normal((n, 16)).astype('>f4'),
    }
    return x, acts_a, acts_b


CONVS = [('conv1', 16, 3), ('layer1.0.conv1', 16, 16), ('layer1.0.conv2', 16, 16), ('layer2.0.conv1', 32, 16), ('layer2.0.conv2', 32, 32)]


def init(rng):
    """A small ResNet's state_dict at initialisation, with PyTorch's names and layouts."""
    sd = {}
    for name, out_c, in_c in CONVS:
        sd[f'{name}.weight'] = (rng.standard_normal((out_c, in_c, 3, 3)) * np.sqrt(2 / (in_c * 9))).astype('<f4')  # OIHW
        bn = name.replace('conv', 'bn')
        sd[f'{bn}.weight'] = np.ones(out_c, dtype='<f4')
        sd[f'{bn}.bias'] = np.zeros(out_c, dtype='<f4')
        sd[f'{bn}.running_mean'] = np.zeros(out_c, dtype='<f4')
        sd[f'{bn}.running_var'] = np.ones(out_c, dtype='<f4')
        sd[f'{bn}.num_batches_tracked'] = np.array(0, dtype='<i8')
    sd['fc.weight'] = (rng.standard_normal((10, 32)) / np.sqrt(32)).astype('<f4')
    sd['fc.bias'] = np.zeros(10, dtype='<f4')
    return sd


def train(sd, rng, step, steps=500):
    """Stands in for training: every weight moves by noise of relative size `step` (more in higher
    layers); BatchNorm statistics and the counter change as training would change them."""
    out = {}
    for k, v in sd.items():
        if k.endswith('num_batches_tracked'):
            out[k] = np.array(int(v) + steps, dtype='<i8')
            continue
        depth = 0 if k.startswith(('conv1', 'bn1')) else 1 if k.startswith('layer1') else 2 if k.startswith('layer2') else 3
        scale = step * (1 + depth) * (np.std(v) if np.std(v) > 0 else 0.1)
        out[k] = (v + scale * rng.standard_normal(v.shape)).astype('<f4')
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('outdir')
    parser.add_argument('--n', type=int, default=500, help='examples (default 500)')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    os.makedirs(args.outdir, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    out = lambda name: os.path.join(args.outdir, name)

    x, acts_a, acts_b = activations(rng, args.n)
    np.save(out('inputs.npy'), x)
    np.savez_compressed(out('activations_a.npz'), **acts_a)
    np.savez(out('activations_b.npz'), **acts_b)

    pretrained = train(init(rng), rng, 0.5)
    finetuned = []
    for _ in range(2):
        ft = train(pretrained, rng, 0.05)
        ft['fc.weight'] = (rng.standard_normal((10, 32)) / np.sqrt(32)).astype('<f4')  # a new head
        finetuned.append(ft)
    scratch = [train(init(rng), rng, 0.5) for _ in range(2)]
    meta = {'format': 'pt', 'written_by': 'make_byo.py'}
    write_safetensors(out('pretrained.safetensors'), pretrained, meta)
    write_safetensors(out('finetuned_1.safetensors'), finetuned[0], meta)
    np.savez(out('finetuned_2.npz'), **{k: v.astype('<f2') if v.dtype == np.float32 else v for k, v in finetuned[1].items()})
    np.savez_compressed(out('scratch_1.npz'), **scratch[0])
    write_safetensors(out('scratch_2.safetensors'), scratch[1], meta)
    print(f'wrote {len(os.listdir(args.outdir))} files to {args.outdir}')


if __name__ == '__main__':
    main()
