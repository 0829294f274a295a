/**
 * The Jupyter wire format: `[identities…, '<IDS|MSG>', signature, header, parent_header,
 * metadata, content, buffers…]`, signed with HMAC over the four JSON frames. Pure functions over
 * Buffers; used by the kernel's transport and by clients.
 */
import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { PROTOCOL_VERSION, type Header, type Message } from './messages';

export const DELIMITER = '<IDS|MSG>';

/** Why a frame list was rejected; the transport logs it and drops the message. */
export class WireError extends Error {
  override readonly name = 'WireError';
}

/** A signer for a connection's key and scheme (`hmac-sha256`); an empty key disables signing. */
export class Signer {
  private readonly algorithm: string | undefined;
  constructor(
    private readonly key: string,
    scheme = 'hmac-sha256',
  ) {
    if (key === '') {
      this.algorithm = undefined;
      return;
    }
    const m = /^hmac-(.+)$/.exec(scheme);
    if (!m) throw new WireError(`unsupported signature_scheme ${JSON.stringify(scheme)} (expected hmac-<digest>)`);
    this.algorithm = m[1];
  }

  sign(frames: readonly Buffer[]): string {
    if (!this.algorithm) return '';
    const h = createHmac(this.algorithm, this.key);
    for (const f of frames) h.update(f);
    return h.digest('hex');
  }

  verify(signature: string, frames: readonly Buffer[]): boolean {
    if (!this.algorithm) return true;
    const expected = Buffer.from(this.sign(frames), 'utf8');
    const got = Buffer.from(signature, 'utf8');
    return expected.length === got.length && timingSafeEqual(expected, got);
  }
}

export function makeHeader(msgType: string, session: string, username = 'kernel'): Header {
  return { msg_id: randomUUID(), session, username, date: new Date().toISOString(), msg_type: msgType, version: PROTOCOL_VERSION };
}

/** Frames of a message, identities first. */
export function encode(message: Omit<Message<unknown>, 'buffers'> & { buffers?: readonly Buffer[] }, signer: Signer): Buffer[] {
  const parts = [message.header, message.parent_header, message.metadata, message.content].map((p) => Buffer.from(JSON.stringify(p), 'utf8'));
  return [...message.identities, Buffer.from(DELIMITER), Buffer.from(signer.sign(parts)), ...parts, ...(message.buffers ?? [])];
}

/** Parses and verifies frames; throws WireError naming what was wrong. */
export function decode(frames: readonly Buffer[], signer: Signer): Message {
  const d = frames.findIndex((f) => f.length === DELIMITER.length && f.toString('utf8') === DELIMITER);
  if (d < 0) throw new WireError(`no ${DELIMITER} delimiter among ${frames.length} frames`);
  if (frames.length < d + 6) throw new WireError(`expected at least 5 frames after the delimiter, got ${frames.length - d - 1}`);
  const signature = frames[d + 1]!.toString('utf8');
  const parts = frames.slice(d + 2, d + 6);
  if (!signer.verify(signature, parts)) throw new WireError(signature === '' ? 'unsigned message' : 'bad signature');
  const json = parts.map((p, i) => {
    try {
      return JSON.parse(p.toString('utf8')) as unknown;
    } catch (e) {
      throw new WireError(`frame ${['header', 'parent_header', 'metadata', 'content'][i]} is not JSON: ${(e as Error).message}`);
    }
  });
  const header = json[0] as Header;
  if (!header || typeof header !== 'object' || typeof header.msg_type !== 'string') throw new WireError('header has no msg_type');
  return {
    identities: frames.slice(0, d),
    header,
    parent_header: (json[1] ?? {}) as Header,
    metadata: (json[2] ?? {}) as Record<string, unknown>,
    content: (json[3] ?? {}) as Record<string, unknown>,
    buffers: frames.slice(d + 6),
  };
}
