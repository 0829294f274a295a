/**
 * Tensor files from other frameworks, `tl.io` in notebooks: NumPy `.npy` and `.npz` (what
 * `np.save`/`np.savez` write from PyTorch or JAX arrays) and `safetensors` (PyTorch, Flax and
 * Hugging Face checkpoints). Readers give a tensor (`.npy`) or a record of name → tensor (`.npz`,
 * `.safetensors`), which `tl.cka.matrixFromFeatures` and `tl.distance(s)` take as they are.
 * TensorFlow.js holds float32, int32 and bool: float16/bfloat16 widen exactly, float64 is rounded
 * to float32, integers become int32 (a value outside int32 is an error, never a wrap-around).
 * Writers (`writeNpy`, `writeNpz`) send results back to Python. Malformed files fail with a
 * `TensorFileError` naming the file and the fault. docs/files.md has the details.
 *
 * The rooms: ./dtypes.ts (element types and their decoding), ./npy.ts, ./npz.ts (with a small zip
 * writer; reading through yauzl), ./safetensors.ts. This file only re-exports.
 */
export { readNpy, writeNpy } from './npy';
export { readNpz, writeNpz } from './npz';
export { readSafetensors, readSafetensorsMetadata } from './safetensors';
