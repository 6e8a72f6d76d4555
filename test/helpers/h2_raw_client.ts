// A raw HTTP/2 client for the front's frame-level tests: it writes frames as given and records every
// frame the server sends, decoding header blocks; and the request and frame builders those tests use.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { connect, type Socket } from 'node:net';
import { PREFACE } from '../../src/api/http/frames.ts';
import { HeaderDecoder, encodeField, type Field } from '../../src/api/http/hpack.ts';
import { h2Frame } from './h2.ts';

// Frame types, flags and settings of RFC 9113, as the tests speak them on the wire (written down once
// for every test in h2_wire.ts, not taken from the code under test).
export {
  DATA,
  HEADERS,
  PRIORITY,
  RST_STREAM,
  SETTINGS,
  PING,
  GOAWAY,
  WINDOW_UPDATE,
  CONTINUATION,
  END_STREAM,
  ACK,
  END_HEADERS,
  PADDED,
  PRIORITY_FLAG,
  SETTINGS_INITIAL_WINDOW_SIZE as INITIAL_WINDOW_SIZE,
  SETTINGS_MAX_FRAME_SIZE as MAX_FRAME_SIZE,
} from './h2_wire.ts';
import {
  ACK,
  DATA,
  END_HEADERS,
  END_STREAM,
  GOAWAY,
  HEADERS,
  PING,
  RST_STREAM,
  SETTINGS,
  WINDOW_UPDATE,
  CONTINUATION,
} from './h2_wire.ts';

export interface Frame {
  type: number;
  flags: number;
  id: number;
  payload: Buffer;
  /** For the frame that completes a header block: its decoded fields. */
  fields?: Field[];
}

export const frame = h2Frame;

export function settings(pairs: [number, number][]): Buffer {
  const p = Buffer.alloc(6 * pairs.length);
  pairs.forEach(([k, v], i) => {
    p.writeUInt16BE(k, 6 * i);
    p.writeUInt32BE(v, 6 * i + 2);
  });
  return frame(SETTINGS, 0, 0, p);
}

export function windowUpdate(id: number, n: number): Buffer {
  const p = Buffer.alloc(4);
  p.writeUInt32BE(n, 0);
  return frame(WINDOW_UPDATE, 0, id, p);
}

export function rstStream(id: number, code: number): Buffer {
  const p = Buffer.alloc(4);
  p.writeUInt32BE(code, 0);
  return frame(RST_STREAM, 0, id, p);
}

/** A gRPC request's header block, :authority a URL as etcdctl 3.4 sends it. */
export function requestBlock(path: string, extra: [string, string][] = []): Buffer {
  const fields: [string, string][] = [
    [':method', 'POST'],
    [':scheme', 'http'],
    [':path', path],
    [':authority', 'http://127.0.0.1:2379'],
    ['content-type', 'application/grpc'],
    ['te', 'trailers'],
    ...extra,
  ];
  return Buffer.concat(fields.map(([n, v]) => encodeField(n, v)));
}

export function grpcMessage(body: Buffer | string): Buffer {
  const b = typeof body === 'string' ? Buffer.from(body) : body;
  const p = Buffer.alloc(5);
  p.writeUInt32BE(b.length, 1);
  return Buffer.concat([p, b]);
}

/** HEADERS, then the whole message in DATA frames of at most 16384 bytes, the last one ending the stream. */
export function request(id: number, path: string, body: Buffer | string = ''): Buffer {
  const msg = grpcMessage(body);
  const out = [frame(HEADERS, END_HEADERS, id, requestBlock(path))];
  for (let at = 0; at < msg.length || at === 0; at += 16384) {
    const last = at + 16384 >= msg.length;
    out.push(frame(DATA, last ? END_STREAM : 0, id, msg.subarray(at, at + 16384)));
  }
  return Buffer.concat(out);
}

export function messages(data: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let p = 0;
  while (p + 5 <= data.length) {
    const len = data.readUInt32BE(p + 1);
    out.push(data.subarray(p + 5, p + 5 + len));
    p += 5 + len;
  }
  assert.equal(p, data.length, 'the data is whole gRPC messages');
  return out;
}

const fieldMap = (fields: Field[] | undefined) => Object.fromEntries(fields ?? []);

export interface Answer {
  heads: Record<string, string>[];
  data: Buffer;
  dataFrames: Frame[];
  /** The code of a RST_STREAM the server sent, if any. */
  rst: number | undefined;
}

export class RawClient {
  readonly frames: Frame[] = [];
  closed = false;
  private buf = Buffer.alloc(0);
  private readonly decoder = new HeaderDecoder();
  private block: { first: Frame; parts: Buffer[] } | undefined;
  private readonly wake = new EventEmitter();

  constructor(readonly sock: Socket) {
    sock.on('data', (d: Buffer) => this.onData(d));
    sock.on('close', () => {
      this.closed = true;
      this.wake.emit('x');
    });
    sock.on('error', () => {});
  }

  /** Connects, sends the preface and `pairs` as SETTINGS, and waits for the server's SETTINGS. */
  static async open(port: number, pairs: [number, number][] = []): Promise<RawClient> {
    const sock = connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      sock.once('connect', resolve);
      sock.once('error', reject);
    });
    const c = new RawClient(sock);
    c.send(PREFACE, settings(pairs));
    await c.until(() => c.find((f) => f.type === SETTINGS && f.flags === 0), 'server SETTINGS');
    await c.until(() => c.find((f) => f.type === SETTINGS && f.flags === ACK), 'SETTINGS ACK');
    return c;
  }

  send(...bufs: Buffer[]): void {
    this.sock.write(Buffer.concat(bufs));
  }

  close(): void {
    this.sock.destroy();
  }

  find(pred: (f: Frame) => boolean, from = 0): Frame | undefined {
    for (let i = from; i < this.frames.length; i++) if (pred(this.frames[i]!)) return this.frames[i];
    return undefined;
  }

  /** Resolves with `check()`'s first defined value, re-checked on every frame; bounded by `ms`. */
  until<T>(check: () => T | undefined, what: string, ms = 5000): Promise<T> {
    return new Promise((resolve, reject) => {
      const probe = () => {
        const v = check();
        if (v === undefined && !this.closed) return;
        clearTimeout(t);
        this.wake.off('x', probe);
        if (v === undefined) reject(new Error(`connection closed before ${what}`));
        else resolve(v);
      };
      const t = setTimeout(() => {
        this.wake.off('x', probe);
        reject(new Error(`timed out waiting for ${what}`));
      }, ms);
      this.wake.on('x', probe);
      probe();
    });
  }

  /** Sends a PING and waits for its ACK: every frame the server wrote before it is then here. */
  async barrier(): Promise<number> {
    const data = Buffer.from(Math.random().toString(16).slice(2, 10).padEnd(8, '0'));
    this.send(frame(PING, 0, 0, data));
    await this.until(
      () => this.find((f) => f.type === PING && f.flags === ACK && f.payload.equals(data)),
      'PING ACK',
    );
    return this.frames.findIndex((f) => f.type === PING && f.flags === ACK && f.payload.equals(data));
  }

  /** Everything the server sent on stream `id` so far. */
  answer(id: number): Answer {
    const a: Answer = { heads: [], data: Buffer.alloc(0), dataFrames: [], rst: undefined };
    const parts: Buffer[] = [];
    for (const f of this.frames) {
      if (f.id !== id) continue;
      if (f.fields !== undefined) a.heads.push(fieldMap(f.fields));
      if (f.type === DATA) {
        a.dataFrames.push(f);
        parts.push(f.payload);
      }
      if (f.type === RST_STREAM) a.rst = f.payload.readUInt32BE(0);
    }
    a.data = Buffer.concat(parts);
    return a;
  }

  /** Whether the server ended stream `id` (END_STREAM or RST_STREAM). */
  ended(id: number): boolean {
    return this.frames.some(
      (f) =>
        f.id === id &&
        (f.type === RST_STREAM || ((f.type === DATA || f.type === HEADERS) && (f.flags & END_STREAM) !== 0)),
    );
  }

  /** Waits for stream `id` to end and returns the answer. */
  async complete(id: number, ms = 5000): Promise<Answer> {
    await this.until(() => (this.ended(id) ? true : undefined), `end of stream ${id}`, ms);
    return this.answer(id);
  }

  /** Waits for a GOAWAY and returns its error code. */
  async goAway(): Promise<number> {
    const f = await this.until(() => this.find((x) => x.type === GOAWAY), 'GOAWAY');
    return f.payload.readUInt32BE(4);
  }

  waitClosed(ms = 5000): Promise<true> {
    return this.until(() => (this.closed ? true : undefined), 'close', ms);
  }

  private onData(d: Buffer): void {
    this.buf = Buffer.concat([this.buf, d]);
    while (this.buf.length >= 9) {
      const len = this.buf.readUIntBE(0, 3);
      if (this.buf.length < 9 + len) break;
      const f: Frame = {
        type: this.buf[3]!,
        flags: this.buf[4]!,
        id: this.buf.readUInt32BE(5) & 0x7fffffff,
        payload: Buffer.from(this.buf.subarray(9, 9 + len)),
      };
      this.buf = this.buf.subarray(9 + len);
      if (f.type === HEADERS) {
        if (f.flags & END_HEADERS) f.fields = this.decode([f.payload]);
        else this.block = { first: f, parts: [f.payload] };
      } else if (f.type === CONTINUATION && this.block !== undefined) {
        this.block.parts.push(f.payload);
        if (f.flags & END_HEADERS) {
          this.block.first.fields = this.decode(this.block.parts);
          this.block = undefined;
        }
      }
      this.frames.push(f);
    }
    this.wake.emit('x');
  }

  private decode(parts: Buffer[]): Field[] {
    const fields = this.decoder.decode(Buffer.concat(parts));
    assert.ok(fields !== undefined, 'the server sent a malformed header block');
    return fields;
  }
}

/** Asserts a successful unary answer carrying `message`. */
export function assertOk(a: Answer, message: Buffer | string): void {
  assert.equal(a.rst, undefined, 'no reset');
  assert.equal(a.heads.length, 2, 'headers and trailers');
  assert.equal(a.heads[0]![':status'], '200');
  assert.equal(a.heads[0]!['content-type'], 'application/grpc');
  assert.equal(a.heads[1]!['grpc-status'], '0');
  assert.deepEqual(messages(a.data), [typeof message === 'string' ? Buffer.from(message) : message]);
}
