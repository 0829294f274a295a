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
