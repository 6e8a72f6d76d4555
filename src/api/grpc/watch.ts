// etcdserverpb.Watch: one bidirectional stream, many watchers. `created` is always sent before any
// event of a watcher; a congested stream never blocks the store (its watchers fall back to catch-up).
import type * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { EtcdServer } from '../../server/server.ts';
import type { WatchDelivery, WatchEvent, WatchKV, Watcher } from '../../mvcc/watchable_store.ts';
import { fromBigInt, type Int64 } from '../../proto/index.ts';
import { sat } from '../../server/txn/kv_view.ts';
import { decode, serviceDefinition } from './codec.ts';
import type { Header } from '../../server/txn/types.ts';

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
}

const NOPUT = 0;
const NODELETE = 1;

export function watchService(
  srv: EtcdServer,
  log: Logger,
): [grpc.ServiceDefinition, grpc.UntypedServiceImplementation] {
  const { definition, methods } = serviceDefinition('etcdserverpb.Watch');
  const reqType = methods['Watch']!.requestType;
  return [
    definition,
    {
      Watch: (call: grpc.ServerDuplexStream<Buffer, object>) => {
        new WatchStream(srv, call, log, (raw) => decode<WatchRequest>(reqType, raw));
      },
    },
  ];
}

function kvMsg(kv: WatchKV) {
  const m: Record<string, unknown> = {
    key: kv.key,
    createRevision: kv.createRevision,
    modRevision: kv.modRevision,
    version: kv.version,
    value: kv.value,
  };
  if (kv.lease !== 0n) m['lease'] = fromBigInt(kv.lease);
  return m;
}

function eventMsg(e: WatchEvent, withPrev: boolean) {
  const kv = e.type === 'DELETE' ? { key: e.kv.key, modRevision: e.kv.modRevision } : kvMsg(e.kv);
  const m: Record<string, unknown> = { type: e.type === 'PUT' ? 0 : 1, kv };
  if (withPrev && e.prevKv) m['prevKv'] = kvMsg(e.prevKv);
  return m;
}

const eventBytes = (e: WatchEvent) =>
  32 + e.kv.key.length * 2 + e.kv.value.length + (e.prevKv?.value.length ?? 0);

class WatchStream {
  private readonly watchers = new Map<number, StreamWatcher>();
  private nextId = 0;
  private closed = false;
  private readonly timers: NodeJS.Timeout[] = [];
  private progressPending = false;
  private progressQueued = false;

  constructor(
    private readonly srv: EtcdServer,
    private readonly call: grpc.ServerDuplexStream<Buffer, object>,
    private readonly log: Logger,
    private readonly decodeReq: (raw: Buffer) => WatchRequest,
  ) {
    call.on('data', (raw: Buffer) => this.onRequest(raw));
    call.on('end', () => this.close(true));
    call.on('error', () => this.close(false));
    call.on('cancelled', () => this.close(false));
    call.on('close', () => this.close(false));
    call.on('drain', () => {
      for (const sw of this.watchers.values()) srv.watchable.resume(sw.w);
    });
    const every = srv.cfg.watchProgressNotifyIntervalMs ?? 10 * 60 * 1000;
    this.timers.push(setInterval(() => this.progressTick(), every).unref());
  }

  private header(revision: number): Header {
    return this.srv.header({ revision });
  }

  private write(resp: object): boolean {
    if (this.closed) return false;
    return this.call.write(resp);
  }

  private onRequest(raw: Buffer): void {
    let req: WatchRequest;
    try {
      req = this.decodeReq(raw);
    } catch (err) {
      this.log.debug({ err }, 'bad watch request');
      this.call.destroy(
        Object.assign(new Error('bad request'), { code: 13, details: 'grpc: error unmarshalling request' }),
      );
      return;
    }
    if (req.createRequest) this.create(req.createRequest);
    else if (req.cancelRequest) this.cancel(sat(req.cancelRequest.watchId));
    else if (req.progressRequest) this.progress();
  }

  private create(c: CreateRequest): void {
    let end: Buffer | undefined = c.rangeEnd.length ? Buffer.from(c.rangeEnd) : undefined;
    if (end && end.length === 1 && end[0] === 0) end = Buffer.alloc(0);
    const rev = this.srv.kv.rev();
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
      w: undefined as unknown as Watcher,
    };
    this.watchers.set(id, sw);
    sw.w = this.srv.watchable.watch({
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
      return this.write({
        header: this.header(d.revision),
        watchId: sw.id,
        compactRevision: d.compactRevision,
        canceled: true,
      });
    }
    sw.sentSinceTick = true;
    const max = this.srv.cfg.maxRequestBytes;
    const total = d.events.reduce((n, e) => n + eventBytes(e), 0);
    if (!sw.fragment || total <= max) {
      const ok = this.write({
        header: this.header(d.revision),
        watchId: sw.id,
        events: d.events.map((e) => eventMsg(e, sw.prevKv)),
      });
      this.afterDelivery();
      return ok;
    }
    let ok = true;
    let part: WatchEvent[] = [];
    let size = 0;
    const flush = (last: boolean) => {
      ok =
        this.write({
          header: this.header(d.revision),
          watchId: sw.id,
          events: part.map((e) => eventMsg(e, sw.prevKv)),
          fragment: !last,
        }) && ok;
      part = [];
      size = 0;
    };
    for (const e of d.events) {
      if (part.length > 0 && size + eventBytes(e) > max) flush(false);
      part.push(e);
      size += eventBytes(e);
    }
    flush(true);
    this.afterDelivery();
    return ok;
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
    this.srv.watchable.cancel(sw.w);
    this.watchers.delete(id);
    this.write({ header: this.header(this.srv.kv.rev()), watchId: id, canceled: true });
  }

  /** Answers a progress request once every watcher of the stream is synced. */
  private progress(): void {
    if (this.srv.watchable.allSynced([...this.watchers.values()].map((s) => s.w))) {
      this.progressPending = false;
      this.write({ header: this.header(this.srv.kv.rev()), watchId: -1 });
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
    const rev = this.srv.kv.rev();
    for (const sw of this.watchers.values()) {
      if (sw.progressNotify && sw.w.synced && !sw.sentSinceTick) {
        this.write({ header: this.header(rev), watchId: sw.id });
      }
      sw.sentSinceTick = false;
    }
  }

  private close(endCall: boolean): void {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers.splice(0)) clearInterval(t);
    for (const sw of this.watchers.values()) this.srv.watchable.cancel(sw.w);
    this.watchers.clear();
    if (endCall) this.call.end();
  }
}
