// The one gRPC layer: every service's methods, served on the HTTP/2 front (api/http/h2_server.ts).
// A handler gets the raw request bytes and a CallContext (deadline, metadata, an AbortSignal); its
// result or error is turned into the answer here, once for every method:
//   unary   (raw, ctx) => response | Promise<response>
//   server  (raw, ctx, out) => void | Promise<void>        out.write() per response; resolved = OK
//   bidi    (out, ctx) => StreamIn                          requests in, responses through out
// Responses are objects encoded with the method's response type, or bytes already encoded. Errors
// go through the method's error map (by default the table in errors.ts); anything outside the table
// is a bug, logged, and answered as Unknown.
import type { Logger } from 'pino';
import type { LocalCall, RequestHead, StreamSink } from '../http/h2_server.ts';
import { frame } from '../http/grpc_message.ts';
import { serviceType, type MessageType } from '../../proto/index.ts';
import {
  Context,
  MessageReader,
  requestEncoding,
  wholeMessage,
  type CallContext,
  type MessageSink,
} from './call.ts';
import { Code, StatusError, type GrpcStatus } from './status.ts';
import { toStatus } from './errors.ts';
import { GRPC_CODE_NAMES, counts, handlingSeconds, type GrpcMethodCounts } from '../../pkg/metrics.ts';

export type Response = object | Uint8Array;
export type UnaryFn = (raw: Buffer, ctx: CallContext) => Response | Promise<Response>;
export type ServerStreamFn = (raw: Buffer, ctx: CallContext, out: StreamOut) => void | Promise<void>;
export type BidiFn = (out: StreamOut, ctx: CallContext) => StreamIn;

/** The answer side of a streamed call. Every method is a no-op once the call is over. */
export interface StreamOut {
  /** One response; `done` runs once it is written to the socket (never if the call is gone). */
  write(msg: Response, done?: () => void): void;
  /** One or more responses already framed as gRPC messages (the Watch stream's batches). */
  writeFramed(b: Buffer, done?: () => void): void;
  /** Ends the call with status OK after everything written. */
  end(): void;
  /** Ends the call with the status of `err` (the method's error map). */
  fail(err: unknown): void;
  /** The call is over: answered, failed, or the client went away. */
  readonly closed: boolean;
}

/** The request side of a bidirectional call, as its handler consumes it. */
export interface StreamIn {
  message(raw: Buffer): void;
  /** The client half-closed: no more requests. */
  end(): void;
  /** The call is over (the client reset it, the connection went, or it was answered). */
  close(): void;
}

/** How a method's errors reach the client. */
export type ErrorMap = (err: unknown, path: string) => GrpcStatus;

/** A method's handler, tagged with its kind (checked against the .proto when registered). */
export type Handler =
  { kind: 'unary'; run: UnaryFn } | { kind: 'server'; run: ServerStreamFn } | { kind: 'bidi'; run: BidiFn };

export const unary = (run: UnaryFn): Handler => ({ kind: 'unary', run });
export const serverStream = (run: ServerStreamFn): Handler => ({ kind: 'server', run });
export const bidi = (run: BidiFn): Handler => ({ kind: 'bidi', run });

type Kind = Handler['kind'];

type Method = Handler & {
  encode(v: object): Uint8Array;
  errors: ErrorMap;
  /** grpc_prometheus's counts for this method (plain numbers, read when /metrics is scraped). */
  stats: MethodStats;
  /** The router's guard (one per router), kept on the method so a call reaches it with no extra field. */
  guard: CallGuard | undefined;
};

/** What a guard may do to a streamed call it lets through: end it later with a status. */
export interface GuardedCall {
  status(st: GrpcStatus): void;
  readonly isOver: boolean;
}

/**
 * Checks made before a handler runs (etcd's v3rpc unary and stream interceptors). A unary call asks
 * `active` (a plain read, false on a healthy voter) and only when it is true `unary()`, after its one
 * message arrived; a streamed call asks `stream()` at its opening, before any message, and `opened()`
 * once its handler runs.
 */
export interface CallGuard {
  readonly active: boolean;
  /** A status refusing the unary call on `path` with request `raw`, or undefined to let it run. */
  unary(path: string, raw: Buffer, ctx: CallContext): GrpcStatus | undefined;
  /** A status refusing the streamed call on `path`, or undefined to let it run. */
  stream(path: string, ctx: CallContext): GrpcStatus | undefined;
  /** The streamed call runs; the guard may end it later. */
  opened(call: GuardedCall, ctx: CallContext): void;
}

export interface RouterOptions {
  /** The largest request message accepted (etcd: --max-request-bytes plus 512 KiB). */
  maxReceiveBytes: number;
  log: Logger;
  guard?: CallGuard;
}

export type ServiceImpl = Record<string, Handler>;

/** Calls of one method that reached their handler, messages in and out, and final codes. */
class MethodStats {
  started = 0;
  received = 0;
  sent = 0;
  readonly handled: number[] = new Array<number>(GRPC_CODE_NAMES.length).fill(0);
  constructor(
    readonly service: string,
    readonly method: string,
    readonly type: GrpcMethodCounts['type'],
  ) {}
}

/** Services and methods etcd 3.4's /metrics lists only after a call (see methodCounts). */
const LISTED_WHEN_CALLED = new Set([
  'v3lockpb.Lock',
  'v3electionpb.Election',
  'etcdserverpb.Auth/AuthStatus',
  'etcdserverpb.Maintenance/Downgrade',
]);

const TYPE_OF: Record<Kind, GrpcMethodCounts['type']> = {
  unary: 'unary',
  server: 'server_stream',
  bidi: 'bidi_stream',
};

export class GrpcRouter {
  private readonly methods = new Map<string, Method>();
  private readonly services = new Set<string>();
  /** Every method of every served service, implemented or not (etcd lists them all in /metrics). */
  private readonly stats = new Map<string, MethodStats>();
  readonly errors: ErrorMap;

  constructor(private readonly opts: RouterOptions) {
    this.errors = (err, path) => {
      const s = toStatus(err);
      if (s.unknown) opts.log.error({ method: path, err }, 'request failed with an unexpected error');
      return { code: s.code, details: s.details };
    };
  }

  /**
   * Serves `impl`'s methods of the .proto service `fullName`; each method's kind and response type
   * come from the .proto. A method of the service that `impl` lacks is answered UNIMPLEMENTED.
   */
  service(fullName: string, impl: ServiceImpl, errors: ErrorMap = this.errors): void {
    const svc = serviceType(fullName);
    const add: [string, Method][] = [];
    const stats = new Map<string, MethodStats>();
    for (const [name, m] of Object.entries(svc.methods)) {
      const kind: Kind = m.requestStream ? 'bidi' : m.responseStream ? 'server' : 'unary';
      stats.set(`/${fullName}/${name}`, new MethodStats(fullName, name, TYPE_OF[kind]));
    }
    for (const [name, h] of Object.entries(impl)) {
      const m = svc.methods[name];
      if (m === undefined) throw new Error(`router: ${fullName} has no method ${name}`);
      const kind: Kind = m.requestStream ? 'bidi' : m.responseStream ? 'server' : 'unary';
      if (kind !== h.kind) throw new Error(`router: ${fullName}/${name} is ${kind}, not ${h.kind}`);
      const type = m.resolvedResponseType as MessageType;
      const encode = (v: object) => type.encode(v).finish();
      const path = `/${fullName}/${name}`;
      add.push([path, { ...h, encode, errors, guard: this.opts.guard, stats: stats.get(path)! }]);
    }
    // Registered only once every method checked out: a refused service leaves nothing behind.
    this.services.add(fullName);
    for (const [path, method] of add) this.methods.set(path, method);
    for (const [path, st] of stats) this.stats.set(path, st);
  }

  /** A method outside the .proto files (grpc.health.v1): its responses must be bytes already. */
  method(path: string, h: Handler): void {
    const service = path.slice(1, path.lastIndexOf('/'));
    this.services.add(service);
    const encode = () => {
      throw new Error(`router: ${path} answers bytes only`);
    };
    const stats = new MethodStats(service, path.slice(path.lastIndexOf('/') + 1), TYPE_OF[h.kind]);
    this.stats.set(path, stats);
    this.methods.set(path, { ...h, encode, errors: this.errors, guard: this.opts.guard, stats });
  }

  /**
   * Per-method counts for /metrics (grpc_server_started/handled/msg_received/msg_sent_total). As in
   * etcd 3.4, every method of its services is listed from the start except Lock and Election (their
   * server registers them after grpc_prometheus' pass) and the methods etcd 3.5 added: those appear
   * once called.
   */
  methodCounts(): GrpcMethodCounts[] {
    const shown = [...this.stats.values()].filter(
      (st) =>
        st.started > 0 ||
        !(LISTED_WHEN_CALLED.has(st.service) || LISTED_WHEN_CALLED.has(`${st.service}/${st.method}`)),
    );
    return shown.map((st) => ({
      service: st.service,
      method: st.method,
      type: st.type,
      started: st.started,
      received: st.received,
      sent: st.sent,
      handled: new Map(st.handled.map((n, code) => [GRPC_CODE_NAMES[code]!, n])),
    }));
  }

  /** A registered method: its handler, response encoder and error map (the JSON gateway calls these). */
  lookup(path: string): Readonly<Handler & { encode(v: object): Uint8Array; errors: ErrorMap }> | undefined {
    return this.methods.get(path);
  }

  /** The front's route function: every stream becomes a call here. */
  readonly route = (head: RequestHead, sink: StreamSink): LocalCall => {
    const m = this.methods.get(head.path);
    if (m === undefined || head.method !== 'POST' || !isGrpcContentType(head.contentType)) {
      return failed(sink, this.refusal(head));
    }
    const enc = requestEncoding(head);
    if (enc instanceof StatusError) return failed(sink, enc);
    const ctx = new Context(head.path, head.fields, head.timeout, head.conn);
    const max = this.opts.maxReceiveBytes;
    if (m.kind === 'unary') return new SingleRequestCall(sink, ctx, m, max, enc);
    // A stream is checked at its opening, before any message (grpc-go's stream interceptor).
    const guard = m.guard;
    if (guard !== undefined) {
      const st = guard.stream(head.path, ctx);
      if (st !== undefined) return failed(sink, st);
    }
    m.stats.started++;
    counts.clientStream++;
    const call =
      m.kind === 'bidi'
        ? new BidiCall(sink, ctx, m, max, enc)
        : new SingleRequestCall(sink, ctx, m, max, enc);
    call.counted = true;
    if (guard !== undefined && !call.isOver) guard.opened(call, ctx);
    return call;
  };

  /** Why a request route() did not take cannot be a call of ours (grpc-go's checks and texts). */
  private refusal(head: RequestHead): StatusError {
    if (head.method !== 'POST') {
      return new StatusError(
        Code.UNIMPLEMENTED,
        `invalid gRPC request method ${JSON.stringify(head.method)}`,
      );
    }
    if (!isGrpcContentType(head.contentType)) {
      return new StatusError(
        Code.UNIMPLEMENTED,
        `invalid gRPC request content-type ${JSON.stringify(head.contentType)}`,
      );
    }
    const path = head.path.startsWith('/') ? head.path.slice(1) : head.path;
    const slash = path.lastIndexOf('/');
    // grpc-go answers this one RESOURCE_EXHAUSTED (etcd 3.4 does too).
    if (slash < 0) {
      return new StatusError(Code.RESOURCE_EXHAUSTED, `malformed method name: ${JSON.stringify(head.path)}`);
    }
    const service = path.slice(0, slash);
    const method = path.slice(slash + 1);
    if (!this.services.has(service)) return new StatusError(Code.UNIMPLEMENTED, `unknown service ${service}`);
    return new StatusError(Code.UNIMPLEMENTED, `unknown method ${method} for service ${service}`);
  }
}

/** application/grpc, alone or followed by "+subtype" or ";parameters" (grpc-go's test). */
function isGrpcContentType(ct: string): boolean {
  if (!ct.startsWith('application/grpc')) return false;
  const next = ct.charCodeAt(16);
  return ct.length === 16 || next === 0x2b /* + */ || next === 0x3b; /* ; */
}

/** A call refused before any handler runs. */
function failed(sink: StreamSink, st: GrpcStatus): LocalCall {
  sink.fail(st.code, st.details);
  return IGNORED;
}

const IGNORED: LocalCall = { data() {}, end() {}, cancel() {} };

/** How long after a call's deadline the server ends it (see CallBase). */
const DEADLINE_SLACK_MS = 20;

const DEADLINE_EXCEEDED: GrpcStatus = { code: Code.DEADLINE_EXCEEDED, details: 'context deadline exceeded' };

/**
 * The status of a request stream that ended inside a message, or (unary and server-streaming calls)
 * before its one message: grpc-go's words, UNKNOWN for a unary call's cut message, INTERNAL for a
 * stream's.
 */
function endedEarly(pending: boolean, kind: Kind): GrpcStatus {
  if (!pending) return { code: Code.UNKNOWN, details: 'EOF' };
  return { code: kind === 'unary' ? Code.UNKNOWN : Code.INTERNAL, details: 'unexpected EOF' };
}

/**
 * The state every call shares: the sink, the context, the end once. (Calls are made per request on
 * the hot path: methods on the prototype, not closures per call.)
 */
abstract class CallBase implements LocalCall, MessageSink {
  protected over = false;
  /** The call reached its handler (past the guard): its end is counted in the method's stats. */
  counted = false;
  /** When the call began, with --metrics extensive only (0 otherwise: no clock read per call). */
  private readonly began = handlingSeconds === undefined ? 0 : performance.now();
  private timer: NodeJS.Timeout | undefined;
  /** Made only when a message does not come whole in one DATA payload. */
  protected reader: MessageReader | undefined;

  constructor(
    protected readonly sink: StreamSink,
    protected readonly ctx: Context,
    protected readonly m: Method,
    protected readonly max: number,
    private readonly encoding: 'identity' | 'gzip',
  ) {
    // The deadline counts from the request's headers: a message still awaited expires too (grpc-go).
    // The client's own timer started before it sent them and ends the call on its side first; ours
    // frees the call a little after, so the client sees its own deadline error, as with etcd, where
    // the network's delay orders the two the same way.
    const d = ctx.deadline;
    if (d !== undefined) {
      const ms = Math.max(0, d - performance.now()) + DEADLINE_SLACK_MS;
      this.timer = setTimeout(expire, ms, this);
    }
  }

  abstract data(chunk: Buffer): void | false;
  abstract end(): void;
  abstract message(msg: Buffer): void;
  abstract wantMore(): boolean;

  get isOver(): boolean {
    return this.over;
  }

  cancel(): void {
    if (this.markOver(Code.CANCELLED)) this.afterOver();
  }

  /** Marks the call over with `code`; false if it already was. The answer goes out before afterOver(). */
  private markOver(code: Code): boolean {
    if (this.over) return false;
    this.over = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.counted) {
      const st = this.m.stats;
      st.handled[code]!++;
      if (this.began !== 0) {
        const labels = { grpc_method: st.method, grpc_service: st.service, grpc_type: st.type };
        handlingSeconds?.observe(labels, (performance.now() - this.began) / 1000);
      }
    }
    return true;
  }

  /** Aborts the context and tells the handler: nothing it does then can keep the answer back. */
  private afterOver(): void {
    this.ctx.abort();
    this.closed();
  }

  /** Hook for calls that must tell their handler. */
  protected closed(): void {}

  status(st: GrpcStatus): void {
    if (!this.markOver(st.code)) return;
    this.sink.fail(st.code, st.details);
    this.afterOver();
  }

  /** Answers a unary call with `resp`. */
  reply(resp: Response): void {
    if (this.over) return;
    let b: Uint8Array;
    try {
      b = this.encode(resp);
    } catch (err) {
      return this.error(err);
    }
    if (!this.markOver(Code.OK)) return;
    this.m.stats.sent++;
    this.sink.reply(b);
    this.afterOver();
  }

  error(err: unknown): void {
    if (this.over) return;
    this.status(err instanceof StatusError ? err : this.m.errors(err, this.ctx.path));
  }

  write(msg: Response, done?: () => void): void {
    if (this.over) return;
    let b: Uint8Array;
    try {
      b = this.encode(msg);
    } catch (err) {
      return this.error(err);
    }
    this.m.stats.sent++;
    this.sink.send(frame(b), done);
  }

  writeFramed(b: Buffer, done?: () => void): void {
    if (this.over) return;
    this.m.stats.sent++;
    this.sink.send(b, done);
  }

  protected encode(v: Response): Uint8Array {
    return v instanceof Uint8Array ? v : this.m.encode(v);
  }

  /** Feeds DATA to the reader; framing errors end the call. */
  protected feed(chunk: Buffer): void {
    try {
      (this.reader ??= new MessageReader(this.max, this.encoding)).push(chunk, this);
    } catch (err) {
      this.error(err);
    }
  }
}

function expire(call: CallBase): void {
  call.status(DEADLINE_EXCEEDED);
}

/** The answer side of a streamed call, over the call's own methods. */
class CallOut implements StreamOut {
  constructor(private readonly call: CallBase) {}
  write(msg: Response, done?: () => void): void {
    this.call.write(msg, done);
  }
  writeFramed(b: Buffer, done?: () => void): void {
    this.call.writeFramed(b, done);
  }
  end(): void {
    this.call.status(OK);
  }
  fail(err: unknown): void {
    this.call.error(err);
  }
  get closed(): boolean {
    return this.call.isOver;
  }
}

const OK: GrpcStatus = { code: Code.OK, details: '' };

/** A unary or server-streaming call: one request message, then the handler runs. */
class SingleRequestCall extends CallBase {
  private got = false;

  data(chunk: Buffer): void | false {
    // grpc-go reads one message; what follows is dropped, and no more window is given for it.
    if (this.got || this.over) return false;
    let whole: Buffer | undefined;
    try {
      whole = this.reader === undefined ? wholeMessage(chunk, this.max) : this.reader.whole(chunk);
    } catch (err) {
      this.error(err);
      return false;
    }
    if (whole !== undefined) this.message(whole);
    else this.feed(chunk);
    if (this.got || this.over) return false;
  }

  message(raw: Buffer): void {
    this.got = true;
    if (this.m.kind === 'server') {
      this.m.stats.received++;
      return this.stream(raw);
    }
    // After the request decoded, before the handler (grpc-go's unary interceptor); one read when idle.
    const guard = this.m.guard;
    if (guard !== undefined && guard.active) {
      let st: GrpcStatus | undefined;
      try {
        st = guard.unary(this.ctx.path, raw, this.ctx);
      } catch (err) {
        return this.error(err);
      }
      if (st !== undefined) return this.status(st);
    }
    // A connection whose client does not read its answers gets no new work: the answer would be
    // dropped, and a write made for it would leave the client not knowing whether it happened.
    const held = this.sink.overBudget?.() ?? 0;
    if (held > 0) {
      return this.status({
        code: Code.UNAVAILABLE,
        details: `the client does not read its answers: ${held} bytes wait on its connection`,
      });
    }
    const stats = this.m.stats;
    stats.started++;
    stats.received++;
    counts.clientUnary++;
    this.counted = true;
    let out: Response | Promise<Response>;
    try {
      out = (this.m as { run: UnaryFn }).run(raw, this.ctx);
    } catch (err) {
      return this.error(err);
    }
    if (out instanceof Promise) {
      out.then(
        (r) => this.reply(r),
        (e: unknown) => this.error(e),
      );
    } else this.reply(out);
  }

  wantMore(): boolean {
    return !this.got && !this.over;
  }

  end(): void {
    if (this.got || this.over) return;
    this.status(endedEarly(this.reader?.pending ?? false, this.m.kind));
  }

  private stream(raw: Buffer): void {
    const out = new CallOut(this);
    let r: void | Promise<void>;
    try {
      r = (this.m as { run: ServerStreamFn }).run(raw, this.ctx, out);
    } catch (err) {
      return this.error(err);
    }
    if (r instanceof Promise) {
      r.then(
        () => out.end(),
        (e: unknown) => this.error(e),
      );
    }
  }
}

/** A bidirectional call: the handler is opened at once and fed each request message. */
class BidiCall extends CallBase {
  private readonly input: StreamIn | undefined;

  constructor(sink: StreamSink, ctx: Context, m: Method, max: number, encoding: 'identity' | 'gzip') {
    super(sink, ctx, m, max, encoding);
    try {
      this.input = (m as { run: BidiFn }).run(new CallOut(this), ctx);
    } catch (err) {
      this.error(err);
      return;
    }
    // Answered while opening: the handler still hears that the call is over.
    if (this.over) this.input.close();
  }

  data(chunk: Buffer): void {
    if (!this.over) this.feed(chunk);
  }

  message(raw: Buffer): void {
    this.m.stats.received++;
    this.input?.message(raw);
  }

  wantMore(): boolean {
    return !this.over;
  }

  end(): void {
    if (this.over) return;
    if (this.reader?.pending) return this.status(endedEarly(true, 'bidi'));
    this.input?.end();
  }

  protected override closed(): void {
    this.input?.close();
  }
}
