/**
 * Checks the content of every request the kernel answers before anything uses it, so that a
 * client sending a wrong type (a number for `code`, a string for `cursor_pos`) gets an error reply
 * naming the field instead of an exception deep in the executor. Pure functions over the decoded
 * JSON; imports only the message types.
 */
import type { ExecuteRequest, HistoryRequest, IsCompleteRequest, RequestType, ShutdownRequest } from './messages';

/** Why a request's content was rejected. `message` names the request, the field and what was expected. */
export class BadRequestError extends Error {
  override readonly name = 'BadRequestError';
}

/** The content of each request type once checked (optional fields may still be absent). */
export interface ValidRequestContent {
  kernel_info_request: Record<string, never>;
  execute_request: ExecuteRequest;
  complete_request: { code: string; cursor_pos?: number };
  inspect_request: { code: string; cursor_pos?: number; detail_level?: 0 | 1 };
  is_complete_request: IsCompleteRequest;
  history_request: HistoryRequest;
  comm_info_request: { target_name?: string };
  shutdown_request: ShutdownRequest;
  interrupt_request: Record<string, never>;
}

/** What a JSON value is, as a message names it: `string`, `number`, `null`, `array`, `object`, `boolean`. */
export function jsonTypeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

/** Describes a value for an error message without copying a huge one into it. */
function summarizeValue(v: unknown): string {
  const type = jsonTypeOf(v);
  if (type === 'string') return (v as string).length > 40 ? `a string of ${(v as string).length} characters` : `string ${JSON.stringify(v)}`;
  if (type === 'number') return `number ${String(v)}`;
  return type;
}

type Field = { readonly required: boolean };

/** Reads one field of a request's content; absent (and null for optional fields) reads as undefined. */
class ContentReader {
  constructor(
    private readonly type: RequestType,
    private readonly content: Record<string, unknown>,
  ) {}

  private fail(field: string, expected: string, got: unknown): never {
    throw new BadRequestError(`${this.type}: content.${field} must be ${expected}, got ${got === undefined ? 'nothing (the field is missing)' : summarizeValue(got)}`);
  }

  private raw(field: string, { required }: Field, expected: string): unknown {
    const v = Object.prototype.hasOwnProperty.call(this.content, field) ? this.content[field] : undefined;
    if (v === undefined || (v === null && !required)) {
      if (required) this.fail(field, expected, undefined);
      return undefined;
    }
    return v;
  }

  string(field: string, f: Field = { required: false }): string | undefined {
    const v = this.raw(field, f, 'a string');
    if (v !== undefined && typeof v !== 'string') this.fail(field, 'a string', v);
    return v as string | undefined;
  }

  boolean(field: string, f: Field = { required: false }): boolean | undefined {
    const v = this.raw(field, f, 'a boolean');
    if (v !== undefined && typeof v !== 'boolean') this.fail(field, 'a boolean', v);
    return v as boolean | undefined;
  }

  /** A non-negative safe integer (cursor positions, counts, line numbers). */
  count(field: string, f: Field = { required: false }): number | undefined {
    const v = this.raw(field, f, 'a non-negative integer');
    if (v !== undefined && !(typeof v === 'number' && Number.isSafeInteger(v) && v >= 0)) this.fail(field, 'a non-negative integer', v);
    return v as number | undefined;
  }

  /** A safe integer, negative allowed (history ranges count back from the end). */
  integer(field: string, f: Field = { required: false }): number | undefined {
    const v = this.raw(field, f, 'an integer');
    if (v !== undefined && !(typeof v === 'number' && Number.isSafeInteger(v))) this.fail(field, 'an integer', v);
    return v as number | undefined;
  }

  oneOf<T extends string | number>(field: string, values: readonly T[], f: Field = { required: false }): T | undefined {
    const expected = `one of ${values.map((x) => JSON.stringify(x)).join(', ')}`;
    const v = this.raw(field, f, expected);
    if (v !== undefined && !values.includes(v as T)) this.fail(field, expected, v);
    return v as T | undefined;
  }

  /** An object whose values are all strings (user_expressions). */
  stringMap(field: string, f: Field = { required: false }): Record<string, string> | undefined {
    const v = this.raw(field, f, 'an object of strings');
    if (v === undefined) return undefined;
    if (jsonTypeOf(v) !== 'object') this.fail(field, 'an object of strings', v);
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      if (typeof x !== 'string') this.fail(`${field}[${JSON.stringify(k.length > 40 ? `${k.slice(0, 40)}…` : k)}]`, 'a string', x);
    }
    return v as Record<string, string>;
  }
}

const REQUIRED: Field = { required: true };

/**
 * The checked content of a request, or a BadRequestError naming the first wrong field, e.g.
 * `complete_request: content.code must be a string, got number 42`. Unknown extra fields are
 * ignored, as the spec asks of kernels.
 *
 * @example
 * validateRequest('is_complete_request', { code: 'if (a) {' }); // { code: 'if (a) {' }
 * validateRequest('is_complete_request', { code: 1 }); // throws BadRequestError
 */
export function validateRequest<T extends RequestType>(type: T, content: unknown): ValidRequestContent[T] {
  if (jsonTypeOf(content) !== 'object') throw new BadRequestError(`${type}: content must be an object, got ${summarizeValue(content)}`);
  const r = new ContentReader(type, content as Record<string, unknown>);
  const checked = ((): ValidRequestContent[RequestType] => {
    switch (type as RequestType) {
      case 'kernel_info_request':
      case 'interrupt_request':
        return {};
      case 'execute_request': {
        const req: ExecuteRequest = { code: r.string('code', REQUIRED)! };
        const silent = r.boolean('silent');
        const storeHistory = r.boolean('store_history');
        const userExpressions = r.stringMap('user_expressions');
        const allowStdin = r.boolean('allow_stdin');
        const stopOnError = r.boolean('stop_on_error');
        if (silent !== undefined) req.silent = silent;
        if (storeHistory !== undefined) req.store_history = storeHistory;
        if (userExpressions !== undefined) req.user_expressions = userExpressions;
        if (allowStdin !== undefined) req.allow_stdin = allowStdin;
        if (stopOnError !== undefined) req.stop_on_error = stopOnError;
        return req;
      }
      case 'complete_request': {
        const req: ValidRequestContent['complete_request'] = { code: r.string('code', REQUIRED)! };
        const pos = r.count('cursor_pos');
        if (pos !== undefined) req.cursor_pos = pos;
        return req;
      }
      case 'inspect_request': {
        const req: ValidRequestContent['inspect_request'] = { code: r.string('code', REQUIRED)! };
        const pos = r.count('cursor_pos');
        const detail = r.oneOf('detail_level', [0, 1] as const);
        if (pos !== undefined) req.cursor_pos = pos;
        if (detail !== undefined) req.detail_level = detail;
        return req;
      }
      case 'is_complete_request':
        return { code: r.string('code', REQUIRED)! };
      case 'history_request': {
        const req: HistoryRequest = { hist_access_type: r.oneOf('hist_access_type', ['range', 'tail', 'search'] as const, REQUIRED)! };
        const output = r.boolean('output');
        const raw = r.boolean('raw');
        const session = r.integer('session');
        const start = r.integer('start');
        const stop = r.integer('stop');
        const n = r.count('n');
        const pattern = r.string('pattern');
        const unique = r.boolean('unique');
        if (output !== undefined) req.output = output;
        if (raw !== undefined) req.raw = raw;
        if (session !== undefined) req.session = session;
        if (start !== undefined) req.start = start;
        if (stop !== undefined) req.stop = stop;
        if (n !== undefined) req.n = n;
        if (pattern !== undefined) req.pattern = pattern;
        if (unique !== undefined) req.unique = unique;
        return req;
      }
      case 'comm_info_request': {
        const target = r.string('target_name');
        return target === undefined ? {} : { target_name: target };
      }
      case 'shutdown_request':
        return { restart: r.boolean('restart') ?? false };
      default: {
        const never: never = type as never;
        throw new BadRequestError(`unknown request type ${JSON.stringify(never)}`);
      }
    }
  })();
  return checked as ValidRequestContent[T];
}

/** Checks of the header fields the kernel relies on; the message in a BadRequestError names the field. */
export function validateHeader(header: unknown): void {
  if (jsonTypeOf(header) !== 'object') throw new BadRequestError(`header must be an object, got ${summarizeValue(header)}`);
  const h = header as Record<string, unknown>;
  for (const field of ['msg_id', 'msg_type'] as const) {
    if (typeof h[field] !== 'string') throw new BadRequestError(`header.${field} must be a string, got ${h[field] === undefined ? 'nothing (the field is missing)' : summarizeValue(h[field])}`);
  }
}
