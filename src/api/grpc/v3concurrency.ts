// What the Lock and Election services share: the KV operations they issue against the member (each
// one goes through the same validation and the same log as a client's request would), the "wait until
// every older key of the prefix is gone" scheme of etcd's clientv3/concurrency, and the registry that
// ends every pending wait when the services close.
import { AsyncLocalStorage } from 'node:async_hooks';
import type { AuthInfo, AuthSource, ClientApi, WatchEvent, Watcher } from '../../server/api.ts';
import { withCaller } from './auth.ts';
import { fromBigInt, messageType } from '../../proto/index.ts';
import { checkDeleteRequest, checkRangeRequest, checkTxnRequest } from './validate.ts';
import type {
  DeleteRangeResponse,
  Header,
  KeyValueMsg,
  RangeRequest,
  RangeResponse,
  TxnRequest,
  TxnResponse,
} from '../../proto/etcdserverpb.ts';
import { CompareResult, CompareTarget, SortOrder, SortTarget } from '../../proto/etcdserverpb.ts';
import { ErrStopped } from '../../server/errors.ts';
import { ClientError, InvariantError } from '../../pkg/errors.ts';

/** Errors of the coordination services; etcd 3.4 sends these (unprefixed) with code Unknown. */
export class CoordError extends ClientError {}

export class ErrElectionNotLeader extends CoordError {
  constructor() {
    super('election: not leader');
    this.name = 'ErrElectionNotLeader';
  }
}

export class ErrElectionNoLeader extends CoordError {
  constructor() {
    super('election: no leader');
    this.name = 'ErrElectionNoLeader';
  }
}

export class ErrMissingLeaderKey extends CoordError {
  constructor() {
    super('"leader" field must be provided');
    this.name = 'ErrMissingLeaderKey';
  }
}

/** The caller went away (client cancel or deadline) while a wait was pending. */
export class ErrCanceled extends CoordError {
  constructor() {
    super('context canceled');
    this.name = 'ErrCanceled';
  }
}

/** clientv3's session TTL, used when a request names no lease (etcd then grants one of its own). */
export const DEFAULT_SESSION_TTL = 60;

const TxnPb = messageType('etcdserverpb.TxnRequest');
const RangePb = messageType('etcdserverpb.RangeRequest');
const DeletePb = messageType('etcdserverpb.DeleteRangeRequest');

/** The end of the range holding every key that starts with `prefix` (etcd's GetPrefixRangeEnd). */
export function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]! += 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}

/** `<name>/<lease in lowercase hex>`, the key a session owns in a lock or an election. */
export function sessionKey(name: Buffer, lease: bigint): Buffer {
  return Buffer.concat([name, Buffer.from(`/${lease.toString(16)}`)]);
}

/** Range options of clientv3's WithFirstCreate / WithLastCreate (+ WithMaxCreateRev). */
export function oldestOf(prefix: Buffer): object {
  return {
    key: prefix,
    rangeEnd: prefixEnd(prefix),
    sortTarget: SortTarget.CREATE,
    sortOrder: SortOrder.ASCEND,
    limit: 1,
  };
}

export function newestBelow(prefix: Buffer, maxCreateRevision: number): object {
  return {
    key: prefix,
    rangeEnd: prefixEnd(prefix),
    sortTarget: SortTarget.CREATE,
    sortOrder: SortOrder.DESCEND,
    limit: 1,
    maxCreateRevision,
  };
}

/** Compare op "create_revision(key) == rev". */
export function createRevIs(key: Buffer, rev: number): object {
  return { key, target: CompareTarget.CREATE, result: CompareResult.EQUAL, createRevision: rev };
}

export const opPut = (key: Buffer, value: Buffer, lease: bigint): object => ({
  requestPut: { key, value, lease: fromBigInt(lease) },
});
export const opGet = (range: object): object => ({ requestRange: range });
export const opDelete = (key: Buffer): object => ({ requestDeleteRange: { key } });

/** The range result at `i` of a txn response whose ops are known (a mismatch is a bug). */
export function rangeOf(resp: TxnResponse, i: number): RangeResponse {
  const op = resp.responses[i];
  if (!op || !('responseRange' in op)) throw new Error(`txn response op ${i} is not a range`);
  return op.responseRange;
}

/** A request encoded as a client would send it, and decoded the way the gRPC edge decodes it. */
function wire<T>(type: typeof TxnPb, obj: object): { raw: Uint8Array; req: T } {
  const raw = type.encode(type.fromObject(obj)).finish();
  return { raw, req: type.decode(raw) as unknown as T };
}

export function kvFromWatch(kv: WatchEvent['kv']): KeyValueMsg {
  const m: KeyValueMsg = {
    key: kv.key,
    createRevision: kv.createRevision,
    modRevision: kv.modRevision,
    version: kv.version,
    value: kv.value,
  };
  if (kv.lease !== 0n) m.lease = fromBigInt(kv.lease);
  return m;
}

/** The parts of the member the coordination services use. */
export type CoordMember = Pick<ClientApi, 'kv' | 'lessor' | 'watchable' | 'limits'> &
  Partial<Pick<ClientApi, 'auth'>>;

/**
 * The caller of the Lock or Election call under way: etcd serves them through an in-process client
 * that carries the call's token, so each KV request they make is checked as the caller's.
 */
const callers = new AsyncLocalStorage<AuthInfo | undefined>();

/**
 * The coordination services' view of the member, plus the set of calls in flight so that close()
 * can end every one of them (watchers included) at once.
 */
export class CoordKV {
  private readonly calls = new Set<AbortController>();
  private closed = false;

  constructor(private readonly member: CoordMember) {}

  /** Runs `fn` as the caller of the call `src` (its token looked up as for a KV call). */
  asCaller<T>(src: AuthSource, fn: () => T | Promise<T>): T | Promise<T> {
    const auth = this.member.auth;
    if (!auth) return fn();
    return withCaller(auth, src, (ai) => (ai === undefined ? fn() : callers.run(ai, fn)));
  }

  /** A signal for one call: aborted by the caller's cancel or by close(). Release it with done(). */
  begin(): { signal: AbortSignal; cancel(): void; done(): void } {
    const ac = new AbortController();
    if (this.closed) ac.abort(new ErrStopped());
    else this.calls.add(ac);
    return {
      signal: ac.signal,
      cancel: () => ac.abort(new ErrCanceled()),
      done: () => this.calls.delete(ac),
    };
  }

  close(): void {
    this.closed = true;
    for (const ac of this.calls) ac.abort(new ErrStopped());
    this.calls.clear();
  }

  async txn(obj: { compare: object[]; success: object[]; failure?: object[] }): Promise<TxnResponse> {
    const { raw, req } = wire<TxnRequest>(TxnPb, obj);
    checkTxnRequest(req, this.member.limits.maxTxnOps);
    return this.member.kv.txn(raw, req, callers.getStore());
  }

  range(obj: object): RangeResponse {
    const { req } = wire<RangeRequest>(RangePb, obj);
    checkRangeRequest(req);
    // A local read (tetcd's coordination services have always read without a ReadIndex round).
    req.serializable = true;
    const r = this.member.kv.range(req, callers.getStore());
    if (r instanceof Promise) throw new InvariantError('a serializable range is answered at once');
    return r;
  }

  deleteKey(key: Buffer): Promise<DeleteRangeResponse> {
    const { raw, req } = wire<{ key: Uint8Array; rangeEnd: Uint8Array; prevKv: boolean }>(DeletePb, { key });
    checkDeleteRequest(req);
    return this.member.kv.deleteRange(raw, req, callers.getStore());
  }

  /** The lease a request names, or (for 0) a fresh one, as clientv3's NewSession does. */
  async sessionLease(lease: bigint): Promise<bigint> {
    if (lease !== 0n) return lease;
    const r = await this.member.lessor.leaseGrant({ TTL: DEFAULT_SESSION_TTL, ID: 0 }, callers.getStore());
    return r.ID;
  }

  /**
   * Watches [key, end) from `startRev` and hands each batch of events to `onEvents` until it returns
   * true ('done'), the history is compacted away ('compacted'), or the signal aborts (rejects with its
   * reason). The watcher is cancelled in every case.
   */
  watchUntil(
    key: Buffer,
    end: Buffer | undefined,
    startRev: number,
    signal: AbortSignal,
    onEvents: (events: WatchEvent[], rev: number) => boolean,
  ): Promise<'done' | 'compacted'> {
    return new Promise((resolve, reject) => {
      if (signal.aborted) {
        reject(signal.reason);
        return;
      }
      let finished = false;
      // Nothing is delivered synchronously from watch(), so `w` is set before finish() can run.
      const finish = (): boolean => {
        if (finished) return false;
        finished = true;
        signal.removeEventListener('abort', onAbort);
        this.member.watchable.cancel(w);
        return true;
      };
      const onAbort = () => {
        if (finish()) reject(signal.reason);
      };
      const w: Watcher = this.member.watchable.watch({
        key,
        end,
        startRev,
        noPut: false,
        noDelete: false,
        prevKv: false,
        send: (d) => {
          if (finished) return true;
          if (d.compactRevision !== undefined) {
            if (finish()) resolve('compacted');
          } else if (onEvents(d.events, d.revision)) {
            if (finish()) resolve('done');
          }
          return true;
        },
      });
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /**
   * Waits until `key`, which exists at revision `rev`, is deleted. The key exists at `rev`, so its
   * deletion comes later: watching from rev + 1 is the same and needs no history read.
   */
  async waitDelete(key: Buffer, rev: number, signal: AbortSignal): Promise<void> {
    for (;;) {
      const r = await this.watchUntil(key, undefined, rev + 1, signal, (evs) =>
        evs.some((e) => e.type === 'DELETE'),
      );
      if (r === 'done') return;
      // History we needed is compacted: look again from now.
      const now = this.range({ key });
      if (now.kvs.length === 0) return;
      rev = now.header.revision;
    }
  }

  /**
   * Waits until no key under `prefix` with create revision <= maxCreateRev remains, watching only the
   * newest such key at a time (so a queue of waiters wakes one at a time, not all at once).
   * Returns the header of the read that found none left.
   */
  async waitDeletes(prefix: Buffer, maxCreateRev: number, signal: AbortSignal): Promise<Header> {
    for (;;) {
      if (signal.aborted) throw signal.reason;
      const r = this.range(newestBelow(prefix, maxCreateRev));
      const last = r.kvs[0];
      if (!last) return r.header;
      await this.waitDelete(Buffer.from(last.key), r.header.revision, signal);
    }
  }
}
