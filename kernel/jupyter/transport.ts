/**
 * ZeroMQ transport: binds the five sockets of a connection file, verifies and decodes incoming
 * messages (unsigned or badly signed ones are dropped and logged, and so are replays: a signature
 * seen before, see DigestHistory), hands them to the handler,
 * and frames, signs and sends what the handler produces. No message logic here.
 */
import * as zmq from 'zeromq';
import { randomUUID } from 'node:crypto';
import type { ConnectionInfo, Header, Message } from '../protocol/messages';
import { DELIMITER, Signer, decode, encode, makeHeader, WireError } from '../protocol/wire';
import type { KernelIO, ReplyChannel } from './handler';
import { DigestHistory } from './digestHistory';

/** Serialises sends on a socket: zeromq allows one send in flight per socket. */
class SendQueue {
  private tail: Promise<void> = Promise.resolve();
  constructor(
    private readonly socket: zmq.Writable,
    private readonly onError: (e: unknown) => void,
  ) {}
  send(frames: Buffer[]): Promise<void> {
    this.tail = this.tail.then(() => this.socket.send(frames)).catch(this.onError);
    return this.tail;
  }
  flush(): Promise<void> {
    return this.tail;
  }
}

export class ZmqTransport implements KernelIO {
  readonly session = randomUUID();
  private readonly signer: Signer;
  private readonly shell = new zmq.Router();
  private readonly control = new zmq.Router();
  private readonly stdin = new zmq.Router();
  private readonly iopub = new zmq.Publisher();
  private readonly hb = new zmq.Reply();
  private readonly queues: Record<'shell' | 'control' | 'iopub', SendQueue>;
  private closed = false;
  /** Signatures seen on shell and control (one history for both, as in ipykernel). */
  private readonly digests = new DigestHistory();

  constructor(
    private readonly info: ConnectionInfo,
    private readonly logger: (text: string) => void,
  ) {
    this.signer = new Signer(info.key ?? '', info.signature_scheme ?? 'hmac-sha256');
    const onError = (e: unknown) => {
      if (!this.closed) this.logger(`send failed: ${(e as Error).message}`);
    };
    this.queues = { shell: new SendQueue(this.shell, onError), control: new SendQueue(this.control, onError), iopub: new SendQueue(this.iopub, onError) };
    for (const s of [this.shell, this.control, this.stdin, this.iopub, this.hb]) s.linger = 0;
  }

  private address(port: number): string {
    return this.info.transport === 'ipc' ? `ipc://${this.info.ip}-${port}` : `tcp://${this.info.ip}:${port}`;
  }

  async bind(): Promise<void> {
    await Promise.all([
      this.shell.bind(this.address(this.info.shell_port)),
      this.control.bind(this.address(this.info.control_port)),
      this.stdin.bind(this.address(this.info.stdin_port)),
      this.iopub.bind(this.address(this.info.iopub_port)),
      this.hb.bind(this.address(this.info.hb_port)),
    ]);
  }

  /** Receives on shell and control until close(), calling `onMessage` for each verified message. */
  listen(onMessage: (channel: ReplyChannel, msg: Message) => void): void {
    const loop = async (channel: ReplyChannel, socket: zmq.Router) => {
      try {
        for await (const frames of socket) {
          let msg: Message;
          try {
            msg = decode(frames as Buffer[], this.signer);
          } catch (e) {
            // Whatever is wrong with one message, the socket goes on receiving the next.
            this.logger(`dropped a message on ${channel}: ${e instanceof WireError ? e.message : `cannot decode it: ${(e as Error).message ?? String(e)}`}`);
            continue;
          }
          const signature = this.signatureOf(frames as Buffer[]);
          if (!this.digests.add(signature)) {
            this.logger(`dropped a message on ${channel}: replayed (its signature was seen before)`);
            continue;
          }
          try {
            onMessage(channel, msg);
          } catch (e) {
            this.logger(`error handling a message on ${channel}: ${(e as Error).stack ?? String(e)}`);
          }
        }
      } catch (e) {
        if (!this.closed) this.logger(`${channel} socket failed: ${(e as Error).message}`);
      }
    };
    void loop('shell', this.shell);
    void loop('control', this.control);
    void (async () => {
      try {
        for await (const frames of this.hb) await this.hb.send(frames);
      } catch (e) {
        if (!this.closed) this.logger(`heartbeat failed: ${(e as Error).message}`);
      }
    })();
  }

  /** The signature frame of a verified message (the frame after the delimiter). */
  private signatureOf(frames: readonly Buffer[]): string {
    const d = frames.findIndex((f) => f.length === DELIMITER.length && f.toString('utf8') === DELIMITER);
    return frames[d + 1]?.toString('utf8') ?? '';
  }

  reply(channel: ReplyChannel, request: Message, msgType: string, content: object, metadata: Record<string, unknown> = {}): void {
    const frames = encode({ identities: request.identities, header: makeHeader(msgType, this.session), parent_header: request.header, metadata, content }, this.signer);
    void this.queues[channel].send(frames);
  }

  publish(msgType: string, content: object, parent: Header | undefined, metadata: Record<string, unknown> = {}): void {
    const topic = Buffer.from(`kernel.${this.session}.${msgType}`);
    const frames = encode({ identities: [topic], header: makeHeader(msgType, this.session), parent_header: parent ?? {}, metadata, content }, this.signer);
    void this.queues.iopub.send(frames);
  }

  log(text: string): void {
    this.logger(text);
  }

  /** Waits until queued sends are out (bounded), then closes every socket. */
  async close(): Promise<void> {
    await Promise.race([Promise.all(Object.values(this.queues).map((q) => q.flush())), new Promise((r) => setTimeout(r, 200))]).catch(() => undefined);
    this.closed = true;
    for (const s of [this.shell, this.control, this.stdin, this.iopub, this.hb]) s.close();
  }
}
