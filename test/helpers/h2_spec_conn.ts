// A raw HTTP/2 client connection for conformance checks (h2spec's way of testing a server): it writes
// bytes exactly as given and records every frame the server sends, decoding response header blocks,
// and waits for what the server must do: answer a PING, ACK our SETTINGS, send HEADERS on a stream,
// reset a stream or end the connection with a given error code.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { connect, type Socket } from 'node:net';
import {
  ACK,
  DATA,
  END_STREAM,
  FrameParser,
  GOAWAY,
  HEADERS,
  PING,
  PREFACE,
  RST_STREAM,
  SETTINGS,
  TYPE_NAMES,
  codeName,
  ping,
  settingsAck,
  settingsFrame,
  type Frame,
} from './h2_wire.ts';

/** How long a conformance check waits for the server's reaction. */
export const WAIT_MS = 2000;

export function describeFrame(f: Frame): string {
  const type = TYPE_NAMES[f.type] ?? `type ${f.type}`;
  let more = '';
  if ((f.type === GOAWAY || f.type === RST_STREAM) && f.payload.length >= 4) {
    more = ` ${codeName(f.payload.readUInt32BE(f.type === GOAWAY ? 4 : 0))}`;
  }
  return `${type}(id ${f.id}, flags 0x${f.flags.toString(16)}, len ${f.payload.length}${more})`;
}

export class SpecConn {
  readonly frames: Frame[] = [];
  closed = false;
  /** The server's SETTINGS (the first one, as received). */
  readonly serverSettings = new Map<number, number>();
  private readonly parser = new FrameParser((f) => this.onFrame(f));
  private readonly wake = new EventEmitter();
  /** Raw bytes received, for the checks that look at what is not HTTP/2. */
  raw = Buffer.alloc(0);

  private constructor(readonly sock: Socket) {
    sock.on('data', (d: Buffer) => {
      if (this.raw.length < 4096) this.raw = Buffer.concat([this.raw, d]);
      this.parser.push(d);
      this.wake.emit('x');
    });
    sock.on('close', () => {
      this.closed = true;
      this.wake.emit('x');
    });
    sock.on('error', () => {});
  }

  /** A TCP connection to `port`, nothing sent yet. */
  static async connect(port: number): Promise<SpecConn> {
    const sock = connect(port, '127.0.0.1');
    sock.setNoDelay(true);
    await new Promise<void>((resolve, reject) => {
      sock.once('connect', resolve);
      sock.once('error', reject);
    });
    return new SpecConn(sock);
  }

  /**
   * h2spec's handshake: the preface and our SETTINGS (`pairs`), the server's SETTINGS received and
   * acknowledged, and its ACK of ours received.
   */
  static async open(port: number, pairs: readonly (readonly [number, number])[] = []): Promise<SpecConn> {
    const c = await SpecConn.connect(port);
    c.send(PREFACE, settingsFrame(pairs));
    const s = await c.until(
      () => c.find((f) => f.type === SETTINGS && (f.flags & ACK) === 0),
      'server SETTINGS',
    );
    for (let i = 0; i + 6 <= s.payload.length; i += 6) {
      c.serverSettings.set(s.payload.readUInt16BE(i), s.payload.readUInt32BE(i + 2));
    }
    c.send(settingsAck());
    await c.until(() => c.find((f) => f.type === SETTINGS && (f.flags & ACK) !== 0), 'SETTINGS ACK');
    return c;
  }

  send(...bufs: Buffer[]): void {
    if (!this.sock.destroyed) this.sock.write(Buffer.concat(bufs));
  }

  close(): void {
    this.sock.destroy();
  }

  find(pred: (f: Frame) => boolean, from = 0): Frame | undefined {
    for (let i = from; i < this.frames.length; i++) if (pred(this.frames[i]!)) return this.frames[i];
    return undefined;
  }

  /** What the server sent, for failure messages. */
  seen(from = 0): string {
    const fs = this.frames.slice(from).map(describeFrame);
    return `[${fs.join(', ')}]${this.closed ? ' closed' : ''}`;
  }

  /** Resolves with `check()`'s first defined value, re-checked on every frame; bounded by `ms`. */
  until<T>(check: () => T | undefined, what: string, ms = WAIT_MS): Promise<T> {
    return new Promise((resolve, reject) => {
      const probe = () => {
        const v = check();
        if (v === undefined && !this.closed) return;
        clearTimeout(t);
        this.wake.off('x', probe);
        if (v === undefined)
          reject(new Error(`connection closed before ${what}; server sent ${this.seen()}`));
        else resolve(v);
      };
      const t = setTimeout(() => {
        this.wake.off('x', probe);
        reject(new Error(`timed out waiting for ${what}; server sent ${this.seen()}`));
      }, ms);
      this.wake.on('x', probe);
      probe();
    });
  }

  /** Waits until the server has closed the connection. */
  waitClosed(ms = WAIT_MS): Promise<true> {
    return this.until(() => (this.closed ? true : undefined), 'the connection to close', ms);
  }

  private onFrame(f: Frame): void {
    this.frames.push(f);
    if (
      f.type === SETTINGS &&
      (f.flags & ACK) === 0 &&
      this.frames.filter((x) => x.type === SETTINGS).length > 1
    ) {
      // Later SETTINGS of the server are acknowledged too.
      this.send(settingsAck());
    }
  }

  // ---- what the server must do (h2spec's verifications, RFC 9113 5.4)

  /**
   * A connection error: GOAWAY with one of `codes` (RFC 9113 5.4.1: the endpoint SHOULD send GOAWAY;
   * h2spec 5.4.1 requires it), then the connection closes.
   */
  async connectionError(...codes: number[]): Promise<void> {
    const g = await this.until(
      () => this.find((f) => f.type === GOAWAY),
      `GOAWAY ${codes.map(codeName).join('|')}`,
    );
    const code = g.payload.readUInt32BE(4);
    assert.ok(codes.includes(code), `GOAWAY ${codeName(code)}, expected ${codes.map(codeName).join('|')}`);
    assert.equal(g.id, 0, 'GOAWAY on stream 0');
    await this.waitClosed();
  }

  /**
   * A stream error on `id`: RST_STREAM with one of `codes`, or the connection error of the same code
   * (a connection error is allowed where a stream error is asked, RFC 9113 5.4.1).
   */
  async streamError(id: number, ...codes: number[]): Promise<void> {
    const f = await this.until(
      () => this.find((x) => (x.type === RST_STREAM && x.id === id) || x.type === GOAWAY),
      `RST_STREAM on ${id} (${codes.map(codeName).join('|')})`,
    );
    const code = f.type === GOAWAY ? f.payload.readUInt32BE(4) : f.payload.readUInt32BE(0);
    assert.ok(
      codes.includes(code),
      `${describeFrame(f)}, expected ${codes.map(codeName).join('|')}; server sent ${this.seen()}`,
    );
  }

  /** Sends a PING and waits for its ACK (the connection is alive and in order). */
  async pingAck(data = Buffer.from('h2-spec!')): Promise<void> {
    this.send(ping(data));
    await this.until(
      () => this.find((f) => f.type === PING && (f.flags & ACK) !== 0 && f.payload.equals(data)),
      `PING ACK (${data.toString('hex')})`,
    );
    this.noError();
  }

  /** Sends a PING: its ACK, or the connection closed without an error, passes. */
  async pingAckOrClose(): Promise<void> {
    const data = Buffer.from('pingorcl');
    this.send(ping(data));
    await this.until(
      () =>
        this.closed || this.find((f) => f.type === PING && (f.flags & ACK) !== 0 && f.payload.equals(data))
          ? true
          : undefined,
      'PING ACK or close',
    );
    const g = this.find((f) => f.type === GOAWAY);
    if (g !== undefined) assert.equal(g.payload.readUInt32BE(4), 0, `GOAWAY ${describeFrame(g)}`);
  }

  /** No GOAWAY with an error and no RST_STREAM other than NO_ERROR so far. */
  noError(): void {
    for (const f of this.frames) {
      if (f.type === GOAWAY) assert.equal(f.payload.readUInt32BE(4), 0, `server sent ${describeFrame(f)}`);
      if (f.type === RST_STREAM)
        assert.equal(f.payload.readUInt32BE(0), 0, `server sent ${describeFrame(f)}`);
    }
  }

  /** Waits for a response HEADERS frame on stream `id` (h2spec's VerifyHeadersFrame). */
  async headersOn(id: number): Promise<Frame> {
    return this.until(() => this.find((f) => f.type === HEADERS && f.id === id), `HEADERS on stream ${id}`);
  }

  /** Waits for the server to end stream `id` (END_STREAM on DATA or HEADERS, or RST_STREAM NO_ERROR). */
  async streamClosed(id: number): Promise<void> {
    await this.until(
      () =>
        this.find(
          (f) =>
            f.id === id &&
            (((f.type === DATA || f.type === HEADERS) && (f.flags & END_STREAM) !== 0) ||
              (f.type === RST_STREAM && f.payload.readUInt32BE(0) === 0)),
        ),
      `the end of stream ${id}`,
    );
  }

  /** Waits for the first DATA frame on `id`. */
  async dataOn(id: number): Promise<Frame> {
    return this.until(() => this.find((f) => f.type === DATA && f.id === id), `DATA on stream ${id}`);
  }
}
