/**
 * Starting the webgpu backend in tests: on a machine without a GPU, Dawn runs on lavapipe (Mesa's
 * Vulkan on the CPU). A test that needs it fails, naming the package, when it cannot start.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import type { TestContext } from 'node:test';
import { initBackend, type BackendInfo } from '../../kernel/analysis/backends';

const LAVAPIPE_ICD = '/usr/share/vulkan/icd.d/lvp_icd.json';

/** `initBackend('webgpu')`, or a failure that says what to install. */
export async function startWebGpu(t?: TestContext): Promise<BackendInfo> {
  try {
    const info = await initBackend('webgpu');
    t?.diagnostic(`webgpu device: ${info.device}`);
    return info;
  } catch (e) {
    assert.fail(
      `WebGPU could not start (${(e as Error).message}). Without a GPU the tests use lavapipe: install Mesa 25 from bookworm-backports ` +
        `(apt-get install -t bookworm-backports mesa-vulkan-drivers libvulkan1)${existsSync(LAVAPIPE_ICD) ? '' : `; ${LAVAPIPE_ICD} is missing`}.`,
    );
  }
}

/**
 * max |got − want| / max |want| (the absolute error when `want` is all zero): how two backends'
 * results of one computation are compared.
 */
export function maxRelError(got: ArrayLike<number>, want: ArrayLike<number>): number {
  assert.equal(got.length, want.length, 'lengths');
  let err = 0;
  let scale = 0;
  for (let i = 0; i < want.length; i++) {
    err = Math.max(err, Math.abs(got[i]! - want[i]!));
    scale = Math.max(scale, Math.abs(want[i]!));
  }
  return scale === 0 ? err : err / scale;
}
