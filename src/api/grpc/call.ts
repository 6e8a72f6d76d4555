// What every gRPC call carries besides its messages (deadline, metadata, cancellation), and the reader
// that cuts a request stream into messages: the 5-byte prefix, the size limit checked as soon as the
// prefix is in (a message is never buffered past it), and gzip-compressed messages when the client
// declared grpc-encoding gzip (grpc-go and grpc-java clients may compress).
import { gunzipSync } from 'node:zlib';
import type { Field } from '../http/hpack.ts';
import type { ConnInfo, RequestHead } from '../http/h2_server.ts';
import { GRPC_PREFIX } from '../http/grpc_message.ts';
import { Code, StatusError } from './status.ts';

/** What a handler knows about its call besides the request. */
export interface CallContext {
  /** The method's path, `/package.Service/Method`. */
  readonly path: string;
  /** When the client gives up (grpc-timeout), on performance.now()'s clock; undefined: never. */
  readonly deadline: number | undefined;
  /** The first value of a metadata key (lower case), undefined when absent. */
  metadata(name: string): string | undefined;
  /** Aborted when the client cancels, the deadline passes or the connection goes. */
  readonly signal: AbortSignal;
  /**
   * The subject CN of the client's certificate, when the connection is TLS and the client presented a
   * certificate verified against the trusted CA (etcd's AuthInfoFromTLS user); undefined otherwise.
   */
  readonly certCommonName?: string | undefined;
  /** The client's address (host:port), for logs such as a failed login; undefined when unknown. */
  readonly remoteAddress?: string | undefined;
}

/** A call's context; the AbortController exists only once a handler asks for the signal. */
export class Context implements CallContext {
  readonly deadline: number | undefined;
  private controller: AbortController | undefined;
  private aborted = false;

  constructor(
    readonly path: string,
    private readonly fields: readonly Field[],
    timeout: string | undefined,
    /** The connection (api/http ConnInfo): the client's address and certificate CN. */
    private readonly conn?: ConnInfo,
  ) {
    const ms = timeoutMs(timeout);
    this.deadline = ms === undefined ? undefined : performance.now() + ms;
  }

  get certCommonName(): string | undefined {
    return this.conn?.certCommonName;
  }

  get remoteAddress(): string | undefined {
    return this.conn?.remoteAddress;
  }

  metadata(name: string): string | undefined {
    for (const [n, v] of this.fields) if (n === name) return v;
    return undefined;
  }

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort();
    }
    return this.controller.signal;
  }

  /** The call is over for the client: waits tied to it stop. */
  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    this.controller?.abort();
  }
}

/** How the request messages of a call are encoded: identity, gzip, or refused (UNIMPLEMENTED). */
export function requestEncoding(head: RequestHead): 'identity' | 'gzip' | StatusError {
  const enc = head.encoding;
  if (enc === undefined || enc === 'identity') return 'identity';
  if (enc === 'gzip') return 'gzip';
  return new StatusError(
    Code.UNIMPLEMENTED,
    `grpc: Decompressor is not installed for grpc-encoding "${enc}"`,
  );
}

/** Where a MessageReader's messages go, and whether more are wanted now. */
export interface MessageSink {
  message(msg: Buffer): void;
  wantMore(): boolean;
}

/**
 * Cuts DATA into gRPC messages. A message larger than `max` is refused from its prefix alone; a
 * compressed one is inflated with the same bound. Errors are thrown as StatusError.
 */
export class MessageReader {
  /** Received bytes not yet cut into messages, oldest first, and their total. */
  private chunks: Buffer[] = [];
  private have = 0;
  /** The body length of the message whose prefix was read, or -1 before its prefix. */
  private need = -1;
  private flag = 0;

  constructor(
    private readonly max: number,
    private readonly encoding: 'identity' | 'gzip',
  ) {}

  /** True when bytes of an unfinished message are waiting. */
  get pending(): boolean {
    return this.need >= 0 || this.have > 0;
  }

  /** Feeds `chunk`; hands `sink` every whole message while it wants more. */
  push(chunk: Buffer, sink: MessageSink): void {
    if (this.have === 0 && this.need < 0) {
      // Nothing waits: whole messages are cut straight from the chunk (a stream's usual DATA).
      let pos = 0;
      while (chunk.length - pos >= GRPC_PREFIX && sink.wantMore()) {
        const len = checkLength(chunk.readUInt32BE(pos + 1), this.max);
        const end = pos + GRPC_PREFIX + len;
        if (end > chunk.length) break;
        const flag = chunk[pos]!;
        const body = ownBytes(chunk.subarray(pos + GRPC_PREFIX, end));
        pos = end;
        sink.message(this.message(flag, body));
      }
      if (pos === chunk.length) return;
      if (pos > 0) chunk = chunk.subarray(pos);
    }
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.have += chunk.length;
    }
    while (sink.wantMore()) {
      if (this.need < 0) {
        if (this.have < GRPC_PREFIX) break;
        const head = this.take(GRPC_PREFIX);
        this.need = this.checkLength(head.readUInt32BE(1));
        this.flag = head[0]!;
      }
      if (this.have < this.need) break;
      const body = this.take(this.need);
      this.need = -1;
      sink.message(this.message(this.flag, body));
    }
    // What waits for more DATA must not pin the socket's read buffers meanwhile.
    for (let i = 0; i < this.chunks.length; i++) this.chunks[i] = ownBytes(this.chunks[i]!);
  }

  /**
   * The message of `chunk` when it is exactly one uncompressed message and nothing waits before it
   * (the common unary request: one DATA frame), else undefined: then push() it.
   */
  whole(chunk: Buffer): Buffer | undefined {
    if (this.have > 0 || this.need >= 0) return undefined;
    return wholeMessage(chunk, this.max);
  }

  private checkLength(len: number): number {
    return checkLength(len, this.max);
  }

  /** The next `n` received bytes (a view when one chunk holds them all). */
  private take(n: number): Buffer {
    this.have -= n;
    const first = this.chunks[0];
    if (first !== undefined && first.length >= n) {
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      return ownBytes(first.subarray(0, n));
    }
    const out = Buffer.allocUnsafe(n);
    let at = 0;
    while (at < n) {
      const c = this.chunks[0]!;
      const k = Math.min(c.length, n - at);
      c.copy(out, at, 0, k);
      at += k;
      if (k === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(k);
    }
    return out;
  }

  private message(flag: number, body: Buffer): Buffer {
    if (flag === 0) return body;
    if (flag !== 1) {
      throw new StatusError(Code.INTERNAL, `grpc: received unexpected payload format ${flag}`);
    }
    if (this.encoding === 'identity') {
      throw new StatusError(Code.INTERNAL, 'grpc: compressed flag set with identity or empty encoding');
    }
    try {
      return gunzipSync(body, { maxOutputLength: Math.max(1, this.max) });
    } catch (err) {
      if (err instanceof RangeError) {
        throw new StatusError(
          Code.RESOURCE_EXHAUSTED,
          `grpc: received message after decompression larger than max (${this.max})`,
        );
      }
      const why = err instanceof Error ? err.message : String(err);
      throw new StatusError(Code.INTERNAL, `grpc: failed to decompress the received message ${why}`);
    }
  }
}

/** `chunk` when it is exactly one uncompressed message (its bytes), else undefined. */
export function wholeMessage(chunk: Buffer, max: number): Buffer | undefined {
  if (chunk.length < GRPC_PREFIX || chunk[0] !== 0) return undefined;
  const len = chunk.readUInt32BE(1);
  if (len !== chunk.length - GRPC_PREFIX) return undefined;
  checkLength(len, max);
  return ownBytes(chunk.subarray(GRPC_PREFIX));
}

function checkLength(len: number, max: number): number {
  if (len > max) {
    throw new StatusError(
      Code.RESOURCE_EXHAUSTED,
      `grpc: received message larger than max (${len} vs. ${max})`,
    );
  }
  return len;
}

/**
 * A request's bytes as HTTP/2 delivered them are a view into the socket's read buffer (up to 64 KiB,
 * shared with other streams). Keys and values decoded from them live on in the watch history, so a
 * small message in a big read gets memory of its own rather than pinning the whole read.
 */
export function ownBytes(b: Buffer): Buffer {
  if (b.buffer.byteLength <= 16 * 1024 || b.length * 4 >= b.buffer.byteLength) return b;
  const own = Buffer.allocUnsafeSlow(b.length);
  b.copy(own);
  return own;
}

const UNIT_MS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 1e-3, n: 1e-6 };

/** The gRPC timeout header (1 to 8 digits, then a unit: H M S m u n) in milliseconds. */
export function timeoutMs(v: string | undefined): number | undefined {
  if (v === undefined || !/^\d{1,8}[HMSmun]$/.test(v)) return undefined;
  const unit = UNIT_MS[v[v.length - 1]!]!;
  return Math.min(Number(v.slice(0, -1)) * unit, 2 ** 31 - 1);
}
