// The Lock service's semantics (etcd's v3lock over clientv3/concurrency's Mutex): a lock is the prefix
// `<name>/`; each session owns `<name>/<lease hex>`, and the owner of the oldest key holds the lock.
import type { Header } from '../../proto/etcdserverpb.ts';
import { type CoordKV, createRevIs, oldestOf, rangeOf, opGet, opPut, sessionKey } from './v3concurrency.ts';

export interface LockResult {
  header: Header;
  key: Buffer;
}

export class V3Lock {
  constructor(private readonly kv: CoordKV) {}

  /**
   * Puts this session's key (or finds it, if the session already waits or holds the lock), then waits
   * for every older key under the prefix to go. If the wait fails (the caller cancelled), the key is
   * deleted so that it does not block the waiters behind it.
   */
  async lock(name: Buffer, requestLease: bigint, signal: AbortSignal): Promise<LockResult> {
    const lease = await this.kv.sessionLease(requestLease);
    const prefix = Buffer.concat([name, Buffer.from('/')]);
    const key = sessionKey(name, lease);
    const owner = opGet(oldestOf(prefix));
    const resp = await this.kv.txn({
      compare: [createRevIs(key, 0)],
      success: [opPut(key, Buffer.alloc(0), lease), owner],
      failure: [opGet({ key }), owner],
    });
    const myRev = resp.succeeded ? resp.header.revision : rangeOf(resp, 0).kvs[0]!.createRevision;
    const holder = rangeOf(resp, 1).kvs[0];
    if (!holder || holder.createRevision === myRev) return { header: resp.header, key };
    let header: Header;
    try {
      header = await this.kv.waitDeletes(prefix, myRev - 1, signal);
    } catch (err) {
      await this.kv.deleteKey(key).catch(() => {});
      throw err;
    }
    // etcd 3.4 does not check that our own key survived the wait (3.5 answers "mutex: session is
    // expired" then); we answer as 3.4 does.
    return { header, key };
  }

  async unlock(key: Buffer): Promise<{ header: Header }> {
    const r = await this.kv.deleteKey(key);
    return { header: r.header };
  }
}
