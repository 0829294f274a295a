/**
 * The extension's settings (`transferlab.*` in package.json `contributes.configuration`), read
 * fresh each time they are needed so a change applies to the next kernel start without a reload.
 */
import * as vscode from 'vscode';
import { InvalidSettingError } from './errors';
import { BACKEND_CHOICES, BACKEND_ENV, BackendChoice, isBackendChoice } from '../kernel/protocol/backends';
import { STATIC_FIGURES_ENV } from '../kernel/protocol/mime';

/** The configuration section; every key below lives under it. */
export const SECTION = 'transferlab';

/** Compute backends the kernel understands (its `TRANSFERLAB_BACKEND`); `auto` lets it choose. */
export const Backend = BackendChoice;
export type Backend = BackendChoice;
export const isBackend = isBackendChoice;

export interface Settings {
  /** Node executable that runs the kernel; `undefined` means the one VS Code's extension host runs on. */
  readonly nodePath: string | undefined;
  /** Backend asked of the kernel through `TRANSFERLAB_BACKEND`. */
  readonly backend: Backend;
  /** Whether cell outputs are written into saved notebooks. */
  readonly saveOutputs: boolean;
  /** Whether charts also carry static SVG/PNG renderings (the kernel's `TRANSFERLAB_STATIC_FIGURES`). */
  readonly staticFigures: boolean;
}

/**
 * Reads and validates the settings for a resource (a notebook's URI gives folder-level values).
 * @throws InvalidSettingError when a value has the wrong type or an unknown backend.
 */
export function readSettings(scope?: vscode.ConfigurationScope): Settings {
  const config = vscode.workspace.getConfiguration(SECTION, scope);
  const nodePath = config.get<unknown>('nodePath', '');
  if (typeof nodePath !== 'string') {
    throw new InvalidSettingError(`${SECTION}.nodePath`, nodePath, 'a path to a Node executable (a string)');
  }
  const backend = config.get<unknown>('backend', Backend.auto);
  if (!isBackend(backend)) {
    throw new InvalidSettingError(`${SECTION}.backend`, backend, `one of ${BACKEND_CHOICES.join(', ')}`);
  }
  const saveOutputs = config.get<unknown>('saveOutputs', true);
  if (typeof saveOutputs !== 'boolean') {
    throw new InvalidSettingError(`${SECTION}.saveOutputs`, saveOutputs, 'true or false');
  }
  const staticFigures = config.get<unknown>('staticFigures', true);
  if (typeof staticFigures !== 'boolean') {
    throw new InvalidSettingError(`${SECTION}.staticFigures`, staticFigures, 'true or false');
  }
  return { nodePath: nodePath.trim() === '' ? undefined : nodePath.trim(), backend, saveOutputs, staticFigures };
}

/** The environment the kernel process gets on top of VS Code's own. */
export function kernelEnvironment(settings: Settings): Record<string, string> {
  return {
    ...(settings.backend === Backend.auto ? {} : { [BACKEND_ENV]: settings.backend }),
    ...(settings.staticFigures === false ? { [STATIC_FIGURES_ENV]: '0' } : {}),
  };
}

/** Fires when one of `keys` (default: any `transferlab.*` setting) changes. */
export function onDidChangeSettings(listener: () => void, keys?: readonly (keyof Settings)[]): vscode.Disposable {
  return vscode.workspace.onDidChangeConfiguration((e) => {
    if (keys ? keys.some((k) => e.affectsConfiguration(`${SECTION}.${k}`)) : e.affectsConfiguration(SECTION)) listener();
  });
}

/** `transferlab.confirmRestart`: whether restarting the kernel asks first (off after "Don't Ask Again"). */
export function confirmRestartSetting(): boolean {
  return vscode.workspace.getConfiguration(SECTION).get<unknown>('confirmRestart', true) !== false;
}

/** Turns the restart confirmation off for the user ("Don't Ask Again"). */
export function stopConfirmingRestart(): Thenable<void> {
  return vscode.workspace.getConfiguration(SECTION).update('confirmRestart', false, vscode.ConfigurationTarget.Global);
}
