/**
 * Safe, bounded summaries of the values cells left in the kernel's global scope, for the
 * Variables view (kernel/protocol/variables.ts). A summary never runs code of the value: only
 * own data properties are read (no getter, no Proxy trap, no toString or toJSON of the value),
 * collections show their length and a few first items, and every text is cut short.
 */
import { types } from 'node:util';
import {
  MAX_TYPE_CHARS,
  MAX_VALUE_CHARS,
  MAX_VARIABLES,
  type CellMemory,
  type MemorySummary,
  type ModelSummary,
  type TensorSummary,
  type VariableSummary,
  type VariablesSummary,
} from '../protocol/variables';

/** Items shown of an array, typed array, Map or Set; keys shown of an object. */
const PREVIEW_ITEMS = 8;
/** Parameters counted at most (a model with more variables is counted in part, and says so). */
const MAX_PARAMETER_TENSORS = 10_000;
/** Cells whose memory change is kept. */
const MAX_CELLS = 50;

const BYTES_PER_ELEMENT: Record<string, number> = { float32: 4, int32: 4, bool: 1, complex64: 8 };

function cut(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** An own data property's value; undefined for accessors, proxies and missing keys. */
function ownValue(obj: object, key: PropertyKey): { value: unknown } | undefined {
  if (types.isProxy(obj)) return undefined;
  let d: PropertyDescriptor | undefined;
  try {
    d = Object.getOwnPropertyDescriptor(obj, key);
  } catch {
    return undefined;
  }
  return d && 'value' in d ? { value: d.value } : undefined;
}

/** The name of the constructor of an object's prototype, read without running its code. */
function constructorName(obj: object): string | undefined {
  if (types.isProxy(obj)) return undefined;
  let proto: unknown;
  try {
    proto = Object.getPrototypeOf(obj);
  } catch {
    return undefined;
  }
  if (proto === null) return 'Object';
  if (typeof proto !== 'object' && typeof proto !== 'function') return undefined;
  const ctor = ownValue(proto as object, 'constructor')?.value;
  if (typeof ctor !== 'function') return undefined;
  const name = ownValue(ctor, 'name')?.value;
  return typeof name === 'string' && name !== '' ? name : undefined;
}

/** A tensor of TensorFlow.js, recognised by its own fields (dataId, shape, dtype, size). */
export function tensorSummary(v: object): TensorSummary | undefined {
  const dataId = ownValue(v, 'dataId')?.value;
  const shape = ownValue(v, 'shape')?.value;
  const dtype = ownValue(v, 'dtype')?.value;
  const size = ownValue(v, 'size')?.value;
  if (dataId === undefined || !Array.isArray(shape) || types.isProxy(shape) || typeof dtype !== 'string' || typeof size !== 'number') return undefined;
  const dims: number[] = [];
  for (let i = 0; i < shape.length && i < 16; i++) {
    const d = ownValue(shape, i)?.value;
    dims.push(typeof d === 'number' ? d : NaN);
  }
  const disposed = ownValue(v, 'isDisposedInternal')?.value === true;
  return { shape: dims, dtype, bytes: size * (BYTES_PER_ELEMENT[dtype] ?? 0), disposed };
}

/** A TransferLab model (kernel/analysis/modelContract.ts): arch, moduleNames and variables of its own. */
export function modelSummary(v: object): ModelSummary | undefined {
  const arch = ownValue(v, 'arch')?.value;
  const moduleNames = ownValue(v, 'moduleNames')?.value;
  const variables = ownValue(v, 'variables')?.value;
  if (typeof arch !== 'string' || !Array.isArray(moduleNames) || types.isProxy(moduleNames) || !types.isMap(variables)) return undefined;
  const modules: string[] = [];
  for (let i = 0; i < moduleNames.length && i < 64; i++) {
    const m = ownValue(moduleNames, i)?.value;
    if (typeof m === 'string') modules.push(cut(m, 40));
  }
  let parameters = 0;
  let n = 0;
  for (const t of Map.prototype.values.call(variables) as IterableIterator<unknown>) {
    if (n++ >= MAX_PARAMETER_TENSORS) break;
    const size = t !== null && typeof t === 'object' ? ownValue(t, 'size')?.value : undefined;
    if (typeof size === 'number') parameters += size;
  }
  return { arch: cut(arch, 40), modules, parameters };
}

const typedArrayLength = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Uint8Array.prototype) as object, 'length')!.get!;
const mapSize = Object.getOwnPropertyDescriptor(Map.prototype, 'size')!.get!;
const setSize = Object.getOwnPropertyDescriptor(Set.prototype, 'size')!.get!;

/** A one-line text of a value nested in another (no recursion into objects). */
function shortText(v: unknown): string {
  switch (typeof v) {
    case 'string':
      return JSON.stringify(cut(v, 24));
    case 'function':
      return 'ƒ';
    case 'object':
      if (v === null) return 'null';
      if (types.isProxy(v)) return 'Proxy';
      if (Array.isArray(v)) return '[…]';
      return tensorSummary(v) ? 'Tensor' : `${constructorName(v) ?? 'Object'} {…}`;
    default:
      return String(v);
  }
}

/** The value's text and, where it applies, its tensor, model or length; `runtimeType` names its kind. */
export function summarizeValue(v: unknown): { value: string; runtimeType: string; tensor?: TensorSummary; model?: ModelSummary; length?: number } {
  try {
    return summarizeUnsafe(v);
  } catch (e) {
    // Nothing above runs the value's code, but an exotic host object may still throw.
    return { value: `(not readable: ${e instanceof Error ? cut(String(e.message), 60) : 'error'})`, runtimeType: 'unknown' };
  }
}

function summarizeUnsafe(v: unknown): { value: string; runtimeType: string; tensor?: TensorSummary; model?: ModelSummary; length?: number } {
  switch (typeof v) {
    case 'undefined':
    case 'boolean':
    case 'number':
      return { value: String(v), runtimeType: typeof v };
    case 'bigint':
      return { value: cut(`${v}n`, MAX_VALUE_CHARS), runtimeType: 'bigint' };
    case 'symbol':
      return { value: cut(Symbol.prototype.toString.call(v), MAX_VALUE_CHARS), runtimeType: 'symbol' };
    case 'string':
      return { value: cut(JSON.stringify(v.length > MAX_VALUE_CHARS ? v.slice(0, MAX_VALUE_CHARS) : v), MAX_VALUE_CHARS), runtimeType: 'string', length: v.length };
    case 'function': {
      if (types.isProxy(v)) return { value: 'Proxy (function)', runtimeType: 'function' };
      const name = ownValue(v, 'name')?.value;
      const label = typeof name === 'string' && name !== '' ? cut(name, 60) : '(anonymous)';
      const isClass = /^class[\s{]/.test(Function.prototype.toString.call(v).slice(0, 6));
      const arity = ownValue(v, 'length')?.value;
      return { value: isClass ? `class ${label}` : `ƒ ${label}(${typeof arity === 'number' ? arity : '?'} args)`, runtimeType: isClass ? 'class' : 'function' };
    }
    case 'object':
      break;
  }
  if (v === null) return { value: 'null', runtimeType: 'null' };
  const o = v as object;
  if (types.isProxy(o)) return { value: 'Proxy', runtimeType: 'Proxy' };
  const tensor = tensorSummary(o);
  if (tensor) {
    const text = `Tensor ${tensor.dtype} [${tensor.shape.join(', ')}]${tensor.disposed ? ' (disposed)' : ''}`;
    return { value: text, runtimeType: constructorName(o) ?? 'Tensor', tensor };
  }
  const model = modelSummary(o);
  if (model) {
    return { value: cut(`${model.arch}: ${model.modules.join(', ')} · ${model.parameters.toLocaleString('en-US')} parameters`, MAX_VALUE_CHARS), runtimeType: constructorName(o) ?? 'Model', model };
  }
  if (Array.isArray(o)) {
    const len = o.length;
    const items: string[] = [];
    for (let i = 0; i < len && i < PREVIEW_ITEMS; i++) {
      const item = ownValue(o, i);
      items.push(item ? shortText(item.value) : '…');
    }
    return { value: cut(`[${items.join(', ')}${len > PREVIEW_ITEMS ? ', …' : ''}]`, MAX_VALUE_CHARS), runtimeType: 'Array', length: len };
  }
  if (types.isTypedArray(o)) {
    const len = typedArrayLength.call(o) as number;
    const items: string[] = [];
    for (let i = 0; i < len && i < PREVIEW_ITEMS; i++) items.push(shortText((o as unknown as ArrayLike<unknown>)[i]));
    const name = constructorName(o) ?? 'TypedArray';
    return { value: cut(`${name}(${len}) [${items.join(', ')}${len > PREVIEW_ITEMS ? ', …' : ''}]`, MAX_VALUE_CHARS), runtimeType: name, length: len };
  }
  if (types.isMap(o)) {
    const size = mapSize.call(o) as number;
    return { value: `Map(${size})`, runtimeType: 'Map', length: size };
  }
  if (types.isSet(o)) {
    const size = setSize.call(o) as number;
    return { value: `Set(${size})`, runtimeType: 'Set', length: size };
  }
  if (types.isPromise(o)) return { value: 'Promise', runtimeType: 'Promise' };
  if (types.isDate(o)) {
    const t = Date.prototype.getTime.call(o);
    return { value: Number.isNaN(t) ? 'Invalid Date' : new Date(t).toISOString(), runtimeType: 'Date' };
  }
  const name = constructorName(o) ?? 'Object';
  if (types.isNativeError(o)) {
    const message = ownValue(o, 'message')?.value;
    return { value: cut(`${name}: ${typeof message === 'string' ? message : ''}`, MAX_VALUE_CHARS), runtimeType: name };
  }
  let keys: string[];
  try {
    keys = Object.keys(o);
  } catch {
    keys = [];
  }
  const fields: string[] = [];
  for (const k of keys.slice(0, PREVIEW_ITEMS)) {
    const item = ownValue(o, k);
    fields.push(`${cut(k, 24)}: ${item ? shortText(item.value) : '(getter)'}`);
  }
  const body = fields.length === 0 ? '{}' : `{ ${fields.join(', ')}${keys.length > PREVIEW_ITEMS ? ', …' : ''} }`;
  return { value: cut(name === 'Object' ? body : `${name} ${body}`, MAX_VALUE_CHARS), runtimeType: name };
}

/** What `tf.memory()` reports, as far as the summary uses it. */
export interface TfMemory {
  readonly numTensors: number;
  readonly numBytes: number;
}

/**
 * The kernel's declared names and TensorFlow.js memory over the session; after each cell,
 * {@link summary} reads the globals.
 */
export class VariableTracker {
  /** name → how it was declared; re-declared names move to the end. */
  private readonly declared = new Map<string, string>();
  private readonly cells: CellMemory[] = [];
  private before: TfMemory | undefined;
  private memory: MemorySummary | undefined;

  /** Records the run-time names a cell declares (before it runs: a failing cell declared them too). */
  declare(names: readonly { readonly name: string; readonly kind: string }[]): void {
    for (const { name, kind } of names) {
      this.declared.delete(name);
      this.declared.set(name, kind);
    }
  }

  /** TensorFlow.js memory before a cell runs (undefined while TensorFlow.js is not loaded). */
  cellStarts(memory: TfMemory | undefined): void {
    this.before = memory;
  }

  /** TensorFlow.js memory after the cell ended: totals, and what it added. */
  cellEnded(executionCount: number, memory: TfMemory | undefined): void {
    if (!memory) return;
    const before = this.before ?? { numTensors: 0, numBytes: 0 };
    this.memory = {
      numTensors: memory.numTensors,
      numBytes: memory.numBytes,
      addedTensors: memory.numTensors - before.numTensors,
      addedBytes: memory.numBytes - before.numBytes,
    };
    this.cells.push({ executionCount, addedTensors: this.memory.addedTensors, addedBytes: this.memory.addedBytes });
    if (this.cells.length > MAX_CELLS) this.cells.splice(0, this.cells.length - MAX_CELLS);
  }

  /** The names a summary covers: the latest {@link MAX_VARIABLES} declared. */
  names(): string[] {
    const all = [...this.declared.keys()];
    return all.slice(Math.max(0, all.length - MAX_VARIABLES));
  }

  /**
   * The summary of the names declared so far, read from `scope` (the global object). `typeOf`
   * gives TypeScript's type of a name where the checker knows it.
   */
  summary(executionCount: number, scope: object, typeOf: (name: string) => string | undefined = () => undefined): VariablesSummary {
    const names = this.names();
    const variables: VariableSummary[] = [];
    for (const name of names) {
      const kind = this.declared.get(name) ?? 'var';
      let d: PropertyDescriptor | undefined;
      try {
        d = Object.getOwnPropertyDescriptor(scope, name);
      } catch {
        d = undefined;
      }
      if (!d) continue; // declared by a cell that failed before the declaration ran
      const s = 'value' in d ? summarizeValue(d.value) : { value: '(getter)', runtimeType: 'accessor' };
      const type = cut(typeOf(name) ?? s.runtimeType, MAX_TYPE_CHARS);
      const { runtimeType: _r, ...rest } = s;
      variables.push({ name, kind, type, ...rest });
    }
    return {
      executionCount,
      variables,
      omitted: this.declared.size - names.length,
      ...(this.memory ? { memory: this.memory } : {}),
      cells: [...this.cells],
    };
  }

  /** Forgets names and memory (a fresh kernel). */
  reset(): void {
    this.declared.clear();
    this.cells.length = 0;
    this.before = undefined;
    this.memory = undefined;
  }
}
