// etcdserverpb.Watch: one bidirectional stream, many watchers. `created` is always sent before any
// event of a watcher; a congested stream never blocks the store (its watchers fall back to catch-up).
// Events are encoded once per revision (watch_codec.ts) and, while the stream's earlier responses are
// still being written, a watcher's further revisions wait and go out together in one response: a
// response may hold several whole revisions (never part of one, unless the watcher asked for
// fragments), and a flush's responses are framed into one buffer handed to the front at once.
import type {
  ApiLimits,
  Auth,
  AuthSource,
  RaftStatus,
  WatchDelivery,
  Watchable,
  Watcher,
} from '../../server/api.ts';
import { ErrAuthOldRevision, ErrInvalidAuthToken, ErrUserEmpty } from '../../auth/errors.ts';
import { ClientError } from '../../pkg/errors.ts';
import { hasToken } from './auth.ts';
import { messageType, sat, type Int64, type MessageType } from '../../proto/index.ts';
import { decode, requestTypes } from './codec.ts';
import { HeaderCache, responseSize, writeResponse } from './watch_codec.ts';
import { batchResponses, encodeUnit, type ResponseSink, type Unit } from './watch_batch.ts';
import { GRPC_PREFIX, frame } from '../http/grpc_message.ts';
import { bidi, type ServiceImpl, type StreamIn, type StreamOut } from './router.ts';
import { counts } from '../../pkg/metrics.ts';

interface CreateRequest {
  key: Buffer;
  rangeEnd: Buffer;
  startRevision: Int64;
  progressNotify: boolean;
  filters: number[];
  prevKv: boolean;
  watchId: Int64;
  fragment: boolean;
}

interface WatchRequest {
  createRequest?: CreateRequest | null;
  cancelRequest?: { watchId: Int64 } | null;
  progressRequest?: object | null;
}

interface StreamWatcher {
  id: number;
  w: Watcher;
  fragment: boolean;
  progressNotify: boolean;
  prevKv: boolean;
  sentSinceTick: boolean;
  /** Deliveries not yet handed to the front, oldest first. */
  pending: Unit[];
}

const NOPUT = 0;
const NODELETE = 1;

/** Bytes buffered per stream (ours plus the front's) above which its watchers fall back to catch-up. */
const HIGH_WATER = 1 << 20;
/** Revisions are merged into one response up to this size (or --max-request-bytes if smaller). */
const MERGE_BYTES = 32 * 1024;
/** Bytes of a response besides its events, at most: prefix, header, watch_id, fragment flag. */
const RESPONSE_HEAD = 64;
/** Responses the front may still be writing when the next batch is handed over. */
const FLUSH_BELOW = 1;

export function watchService(
  watchable: Watchable,
  status: RaftStatus,
  limits: ApiLimits,
  auth?: Auth,
): ServiceImpl {
  const reqType = requestTypes('etcdserverpb.Watch')['Watch']!;
  const respType = messageType('etcdserverpb.WatchResponse');
  return {
    Watch: bidi(
      (out, ctx) =>
        new WatchStream(
          watchable,
          status,
          limits,
          out,
          (raw) => decode<WatchRequest>(reqType, raw, true),
          respType,
          auth,
          ctx,
        ).input,
    ),
  };
}

/**
 * etcd's cancel reasons for a watch refused by auth (watch.go recvLoop): the gRPC error's text, as Go
 * prints a status error.
 */
function cancelReason(err: unknown): string {
  if (err instanceof ErrInvalidAuthToken) return `rpc error: code = Unauthenticated desc = ${err.message}`;
  if (err instanceof ErrAuthOldRevision || err instanceof ErrUserEmpty) {
    return `rpc error: code = InvalidArgument desc = ${err.message}`;
  }
  return 'rpc error: code = PermissionDenied desc = etcdserver: permission denied';
}

/**
 * The encoded events of a delivery. Watchers of the same range and filters are handed the same
 * delivery one after another, so remembering the last answer encodes it once, not once per watcher.
 */
let last: { d: WatchDelivery | undefined; withPrev: boolean; unit: Unit } = {
  d: undefined,
  withPrev: false,
  unit: { entries: [], revs: [], bytes: 0, revision: 0 },
};

function unitOf(d: WatchDelivery, withPrev: boolean): Unit {
  if (d === last.d && withPrev === last.withPrev) return last.unit;
  const unit = encodeUnit(d.events, d.revision, withPrev);
  last = { d, withPrev, unit };
  return unit;
}

class WatchStream {
  private readonly watchers = new Map<number, StreamWatcher>();
  private nextId = 0;
  private closed = false;
  private readonly timers: NodeJS.Timeout[] = [];
  private progressPending = false;
  private progressQueued = false;
  private readonly headers: HeaderCache;
  /** Watchers with pending deliveries, in the order their first one arrived. */
  private pendingWatchers: StreamWatcher[] = [];
  private pendingBytes = 0;
  /** Responses handed to the front and not yet written out, and their bytes. */
  private inflight = 0;
  private inflightBytes = 0;
  private flushQueued = false;
  /** A delivery was refused; the watchers are resumed once the buffers drain. */
  private congested = false;
  /**
   * What the router feeds: the client's requests and the end of the call. A client that half-closes
   * keeps its watchers and their events (etcd's stream goes on too; a JSON gateway watch is one
   * request and then the events): the call ends when the client resets it or the member stops.
   */
  readonly input: StreamIn = {
    message: (raw) => this.onRequest(raw),
    end: () => {},
    close: () => this.close(),
  };

  constructor(
    private readonly watchable: Watchable,
    private readonly status: RaftStatus,
    private readonly limits: ApiLimits,
    private readonly out: StreamOut,
    private readonly decodeReq: (raw: Buffer) => WatchRequest,
    private readonly respType: MessageType,
    private readonly auth?: Auth,
    private readonly caller?: AuthSource,
  ) {
    this.headers = new HeaderCache((revision) => status.header({ revision }));
    counts.watchStreams++;
    this.timers.push(setInterval(() => this.progressTick(), limits.watchProgressNotifyIntervalMs).unref());
  }

  private header(revision: number) {
    return this.status.header({ revision });
  }

  /** Writes a response that is not an event delivery, after everything delivered before it. */
  private write(resp: object): void {
    if (this.closed) return;
    this.flush();
    this.send(frame(this.respType.encode(resp).finish()));
  }

  private send(b: Buffer): void {
    this.inflight++;
    this.inflightBytes += b.length;
    this.out.writeFramed(b, () => this.written(b.length));
  }

  private written(n: number): void {
    this.inflight--;
    this.inflightBytes -= n;
    if (this.closed) return;
    if (this.pendingWatchers.length > 0) this.scheduleFlush();
    if (this.congested && this.pendingBytes + this.inflightBytes <= HIGH_WATER / 2) {
      this.congested = false;
      for (const sw of this.watchers.values()) this.watchable.resume(sw.w);
    }
  }

  private scheduleFlush(): void {
    if (this.flushQueued || this.inflight >= FLUSH_BELOW) return;
    this.flushQueued = true;
    queueMicrotask(() => {
      this.flushQueued = false;
      this.flush();
    });
  }

  /** Sends every pending delivery: per watcher, as few responses as the size limit allows. */
  private flush(): void {
    if (this.closed || this.pendingWatchers.length === 0) return;
    const ws = this.pendingWatchers;
    const bytes = this.pendingBytes;
    this.pendingWatchers = [];
    this.pendingBytes = 0;
    const max = this.limits.maxRequestBytes;
    const term = this.status.term();
    const header = (rev: number) => this.headers.get(rev, term);
    const cap = Math.min(max, MERGE_BYTES);
    let units = 0;
    for (const sw of ws) units += sw.pending.length;
    // Framed responses are written one after another into one buffer (a new one only if it fills):
    // one allocation and one write for the whole flush. Room: events plus a response head per unit.
    const room = bytes + units * RESPONSE_HEAD + 64;
    let buf = Buffer.alloc(0);
    let at = 0;
    const sink: ResponseSink = (h, id, entries, fragment) => {
      const size = responseSize(h, id, entries, fragment);
      if (at + GRPC_PREFIX + size > buf.length) {
        if (at > 0) this.send(buf.subarray(0, at));
        buf = Buffer.allocUnsafe(Math.max(GRPC_PREFIX + size, room));
        at = 0;
      }
      at = writeResponse(buf, at, size, h, id, entries, fragment, true);
    };
    for (const sw of ws) {
      const pending = sw.pending;
      sw.pending = [];
      batchResponses(pending, { watchId: sw.id, cap, max, fragment: sw.fragment, header }, sink);
    }
    if (at > 0) this.send(buf.subarray(0, at));
  }

  private onRequest(raw: Buffer): void {
    let req: WatchRequest;
    try {
      req = this.decodeReq(raw);
    } catch (err) {
      this.out.fail(err);
      return;
    }
    // While auth is enabled, requests wait their turn behind a create whose caller is still looked up.
    if (this.queue || (this.auth && this.caller && (this.auth.enabled || hasToken(this.caller)))) {
      const prev = this.queue ?? Promise.resolve();
      const next = prev.then(() => this.handle(req)).catch((err: unknown) => this.out.fail(err));
      this.queue = next;
      void next.then(() => {
        if (this.queue === next) this.queue = undefined;
      });
      return;
    }
    // Without auth every request is handled at once (nothing here returns a promise then).
    void this.handle(req);
  }

  /** Requests waiting behind a permission check (only while auth is enabled). */
  private queue: Promise<void> | undefined;

  private handle(req: WatchRequest): void | Promise<void> {
    // A request that waited behind a permission check while the stream closed is dropped.
    if (this.closed) return;
    if (req.createRequest) return this.checkedCreate(req.createRequest);
    else if (req.cancelRequest) this.cancel(sat(req.cancelRequest.watchId));
    else if (req.progressRequest) this.progress();
  }

  /**
   * etcd's isWatchPermitted before the create: read permission on the range (a range end of "\0" is
   * checked as the key alone, as etcd 3.4 turns it into an empty end first). A refusal is a created
   * and canceled response with watch ID -1 and etcd's reason.
   */
  private checkedCreate(c: CreateRequest): void | Promise<void> {
    const auth = this.auth;
    if (!auth || !this.caller || !(auth.enabled || hasToken(this.caller))) return this.create(c);
    const end = c.rangeEnd.length === 1 && c.rangeEnd[0] === 0 ? undefined : c.rangeEnd;
    const refuse = (err: unknown) => {
      if (!(err instanceof ClientError)) throw err;
      this.write({
        header: this.header(this.status.rev()),
        watchId: -1,
        created: true,
        canceled: true,
        cancelReason: cancelReason(err),
      });
    };
    const check = (ai: Awaited<ReturnType<Auth['authInfo']>>) => {
      if (this.closed) return;
      try {
        auth.isRangePermitted(ai, c.key, end);
      } catch (err) {
        refuse(err);
        return;
      }
      this.create(c);
    };
    let ai: ReturnType<Auth['authInfo']>;
    try {
      ai = auth.authInfo(this.caller);
    } catch (err) {
      refuse(err);
      return;
    }
    if (ai instanceof Promise) return ai.then(check, refuse);
    check(ai);
  }

  private create(c: CreateRequest): void {
    let end: Buffer | undefined = c.rangeEnd.length ? Buffer.from(c.rangeEnd) : undefined;
    if (end && end.length === 1 && end[0] === 0) end = Buffer.alloc(0);
    const rev = this.status.rev();
    let id = sat(c.watchId);
    let error: string | undefined;
    if (end && end.length > 0 && Buffer.compare(c.key, end) >= 0) error = 'mvcc: watcher range is empty';
    else if (id !== 0 && this.watchers.has(id))
      error = 'mvcc: duplicate watch ID provided on the WatchStream';
    if (error) {
      this.write({
        header: this.header(rev),
        watchId: -1,
        created: true,
        canceled: true,
        cancelReason: error,
      });
      return;
    }
    if (id === 0) {
      while (this.watchers.has(this.nextId)) this.nextId++;
      id = this.nextId++;
    }
    this.write({ header: this.header(rev), watchId: id, created: true });
    const sw: StreamWatcher = {
      id,
      fragment: c.fragment,
      progressNotify: c.progressNotify,
      prevKv: c.prevKv,
      sentSinceTick: false,
      pending: [],
      w: undefined as unknown as Watcher,
    };
    this.watchers.set(id, sw);
    sw.w = this.watchable.watch({
      key: Buffer.from(c.key),
      end,
      startRev: sat(c.startRevision),
      noPut: c.filters.includes(NOPUT),
      noDelete: c.filters.includes(NODELETE),
      prevKv: c.prevKv,
      send: (d) => this.deliver(sw, d),
    });
  }

  private deliver(sw: StreamWatcher, d: WatchDelivery): boolean {
    if (d.compactRevision !== undefined) {
      this.watchers.delete(sw.id);
      this.write({
        header: this.header(d.revision),
        watchId: sw.id,
        compactRevision: d.compactRevision,
        canceled: true,
      });
      return !this.congested;
    }
    if (this.closed) return false;
    sw.sentSinceTick = true;
    const u = unitOf(d, sw.prevKv);
    if (sw.pending.length === 0) this.pendingWatchers.push(sw);
    sw.pending.push(u);
    this.pendingBytes += u.bytes;
    this.scheduleFlush();
    this.afterDelivery();
    if (this.pendingBytes + this.inflightBytes > HIGH_WATER) this.congested = true;
    return !this.congested;
  }

  /** A pending progress request is retried once the current notify pass has finished. */
  private afterDelivery(): void {
    if (!this.progressPending || this.progressQueued) return;
    this.progressQueued = true;
    queueMicrotask(() => {
      this.progressQueued = false;
      if (this.progressPending && !this.closed) this.progress();
    });
  }

  private cancel(id: number): void {
    const sw = this.watchers.get(id);
    if (!sw) return;
    this.watchable.cancel(sw.w);
    this.watchers.delete(id);
    this.write({ header: this.header(this.status.rev()), watchId: id, canceled: true });
  }

  /** Answers a progress request once every watcher of the stream is synced. */
  private progress(): void {
    if (this.watchable.allSynced([...this.watchers.values()].map((s) => s.w))) {
      this.progressPending = false;
      this.write({ header: this.header(this.status.rev()), watchId: -1 });
    } else if (!this.progressPending) {
      this.progressPending = true;
      const t = setInterval(() => {
        if (this.closed || !this.progressPending) return clearInterval(t);
        this.progress();
      }, 50);
      t.unref();
      this.timers.push(t);
    }
  }

  private progressTick(): void {
    const rev = this.status.rev();
    for (const sw of this.watchers.values()) {
      if (sw.progressNotify && sw.w.synced && !sw.sentSinceTick) {
        this.write({ header: this.header(rev), watchId: sw.id });
      }
      sw.sentSinceTick = false;
    }
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    counts.watchStreams--;
    for (const t of this.timers.splice(0)) clearInterval(t);
    for (const sw of this.watchers.values()) this.watchable.cancel(sw.w);
    this.watchers.clear();
  }
}
