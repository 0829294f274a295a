/**
 * The architectures a {@link ModelConfig} can name. Adding one is a new file in this folder (an
 * {@link Architecture}: config checks, layout, forward) and one line in {@link ARCHITECTURES}.
 * Names are stored in checkpoint manifests: never rename one.
 */
import type { Architecture, BaseConfig, ConfigOf } from './architecture';
import { cnnArchitecture } from './cnn';
import { resnetArchitecture } from './resnet';

/** Every architecture, by the order they are listed in messages. */
export const ARCHITECTURES = [cnnArchitecture, resnetArchitecture] as const;

/** The JSON description a model is rebuilt from (checkpoints store it in their manifest). */
export type ModelConfig = ConfigOf<(typeof ARCHITECTURES)[number]>;

/** The `config.arch` names, e.g. `['cnn', 'resnet-mini']`. */
export function architectureNames(): string[] {
  return ARCHITECTURES.map((a) => a.name);
}

/** The architecture a config names, or undefined. */
export function architectureNamed(name: unknown): Architecture<BaseConfig> | undefined {
  // Each architecture takes only its own config; the caller passes the config it looked up.
  return (ARCHITECTURES as readonly unknown[] as readonly Architecture<BaseConfig>[]).find((a) => a.name === name);
}
