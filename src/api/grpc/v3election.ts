// The Election service's semantics (etcd's v3election over clientv3/concurrency's Election): an election
// is the prefix `<name>/`; each campaigner owns `<name>/<lease hex>`, the oldest key is the leader and
// its value is what the leader proclaims. A leader is identified by its key and that key's create
// revision, so a key that was deleted and created again is a different (non-)leader.
import type { Header, KeyValueMsg } from '../../proto/etcdserverpb.ts';
import {
  type CoordKV,
  ErrElectionNoLeader,
  ErrElectionNotLeader,
  ErrMissingLeaderKey,
  createRevIs,
  kvFromWatch,
  oldestOf,
  opDelete,
  opGet,
  opPut,
  prefixEnd,
  rangeOf,
  sessionKey,
} from './v3concurrency.ts';
import type { WatchKV } from '../../server/api.ts';

export interface LeaderKey {
  name: Buffer;
  key: Buffer;
  rev: number;
  lease: bigint;
}

export interface LeaderResult {
  header: Header;
  kv: KeyValueMsg;
}

export class V3Election {
  constructor(private readonly kv: CoordKV) {}

  /**
   * Joins the election (or finds this session's existing key, updating its value if it differs) and
   * waits until every older campaigner is gone. A cancelled campaign withdraws its key.
   */
  async campaign(
    name: Buffer,
    requestLease: bigint,
    value: Buffer,
    signal: AbortSignal,
  ): Promise<{ header: Header; leader: LeaderKey }> {
    const lease = await this.kv.sessionLease(requestLease);
    const prefix = Buffer.concat([name, Buffer.from('/')]);
    const key = sessionKey(name, lease);
    const resp = await this.kv.txn({
      compare: [createRevIs(key, 0)],
      success: [opPut(key, value, lease)],
      failure: [opGet({ key })],
    });
    let rev = resp.header.revision;
    const leader: LeaderKey = { name, key, rev, lease };
    if (!resp.succeeded) {
      const mine = rangeOf(resp, 0).kvs[0]!;
      leader.rev = rev = mine.createRevision;
      if (!Buffer.from(mine.value ?? []).equals(value)) {
        try {
          await this.proclaim(leader, value);
        } catch (err) {
          await this.resign(leader).catch(() => {});
          throw err;
        }
      }
    }
    try {
      await this.kv.waitDeletes(prefix, rev - 1, signal);
    } catch (err) {
      if (signal.aborted) await this.resign(leader).catch(() => {});
      throw err;
    }
    // etcd answers with the header of the campaign's first write, not of the wait.
    return { header: resp.header, leader };
  }

  /** Sets the leader's value, if `leader` still is the key it names (same create revision). */
  async proclaim(leader: LeaderKey | null | undefined, value: Buffer): Promise<{ header: Header }> {
    if (!leader) throw new ErrMissingLeaderKey();
    const lease = await this.kv.sessionLease(leader.lease);
    const r = await this.kv.txn({
      compare: [createRevIs(leader.key, leader.rev)],
      success: [opPut(leader.key, value, lease)],
    });
    if (!r.succeeded) throw new ErrElectionNotLeader();
    return { header: r.header };
  }

  /** Deletes the leader key if it is still this one; not being the leader is no error. */
  async resign(leader: LeaderKey | null | undefined): Promise<{ header: Header }> {
    if (!leader) throw new ErrMissingLeaderKey();
    const r = await this.kv.txn({
      compare: [createRevIs(leader.key, leader.rev)],
      success: [opDelete(leader.key)],
    });
    return { header: r.header };
  }

  /** The oldest key of the election. */
  leader(name: Buffer): LeaderResult {
    const r = this.kv.range(oldestOf(Buffer.concat([name, Buffer.from('/')])));
    const kv = r.kvs[0];
    if (!kv) throw new ErrElectionNoLeader();
    return { header: r.header, kv };
  }

  /**
   * Reports the current leader, then every new value it proclaims, then the next leader once it is
   * gone, and so on, until the signal aborts (rejects with its reason) or the history a watch needs
   * has been compacted (resolves: the stream ends, as etcd's does).
   */
  async observe(name: Buffer, signal: AbortSignal, emit: (r: LeaderResult) => void): Promise<void> {
    const prefix = Buffer.concat([name, Buffer.from('/')]);
    for (;;) {
      if (signal.aborted) throw signal.reason;
      const now = this.kv.range(oldestOf(prefix));
      let current: LeaderResult;
      const first = now.kvs[0];
      if (first) {
        current = { header: now.header, kv: first };
      } else {
        // No leader: the first key put under the prefix is the next one.
        let put: WatchKV | undefined;
        const r = await this.kv.watchUntil(
          prefix,
          prefixEnd(prefix),
          now.header.revision + 1,
          signal,
          (evs) => {
            put = evs.find((e) => e.type === 'PUT')?.kv;
            return put !== undefined;
          },
        );
        if (r === 'compacted' || !put) return;
        current = { header: { revision: put.modRevision }, kv: kvFromWatch(put) };
      }
      emit(current);
      const r = await this.kv.watchUntil(
        Buffer.from(current.kv.key),
        undefined,
        current.header.revision + 1,
        signal,
        (evs, rev) => {
          for (const e of evs) {
            if (e.type === 'DELETE') return true;
            emit({ header: { revision: rev }, kv: kvFromWatch(e.kv) });
          }
          return false;
        },
      );
      if (r === 'compacted') return;
    }
  }
}
