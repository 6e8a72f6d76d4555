// Corruption checks (etcd 3.4's corrupt.go): members compare HashKV, the hash of their key history up
// to a revision, which must be equal wherever the compact revision is.
//
// - Initial (--experimental-initial-corrupt-check): a member that already holds data asks every peer
//   for its HashKV at the member's own current revision before it serves; a peer at the same compact
//   revision with another hash is a mismatch, and any mismatch stops the start ("<id> found data
//   inconsistency with peers"). A peer that is behind (future revision) or ahead (compacted) is only
//   logged, as etcd does.
// - Periodic (--experimental-corrupt-check-time): only the leader checks. It hashes, asks the peers at
//   that revision, confirms it still leads (a linearizable barrier), hashes again, and raises CORRUPT
//   through the log when its own hash changed at an unchanged revision, or a follower reports a newer
//   revision, a newer compact revision, or, at the same compact revision, another hash. As in etcd
//   3.4.23 the alarm names member 0: which member holds the bad data is not known.
//
// Peers are reached through an injected `peerHashes` (the member fetches over the peer port, as etcd
// does over its peer HTTP API), and time through an injected clock, so the tests drive it without I/O.
import type { Logger } from 'pino';
import { idHex as hexId } from '../pkg/ids.ts';

/** A member's hash of its key history at `revision` (etcd's HashKVResponse, header revision included). */
export interface HashAt {
  hash: number;
  /** The revision hashed. */
  revision: number;
  compactRevision: number;
}

/** What asking one peer gave: its hash, or why not (etcd's future-revision and compacted errors named). */
export interface PeerHash {
  memberId: bigint;
  /** The peer's URLs, for the logs. */
  endpoints: string[];
  resp?: HashAt;
  err?: 'future' | 'compacted' | string;
}

export interface CorruptCheckDeps {
  memberId: bigint;
  /** This member's hash at its current revision. */
  localHash(): Promise<HashAt>;
  /** Every other member's hash at `revision`. */
  peerHashes(revision: number): Promise<PeerHash[]>;
  /** Resolves once this member is confirmed the leader and has applied what it committed. */
  linearizableBarrier(): Promise<void>;
  /** Proposes the CORRUPT alarm (ACTIVATE, member 0) through the log. */
  raiseCorrupt(): Promise<unknown>;
  isLeader(): boolean;
  log: Logger;
}

/** The initial check found a mismatch: the member must not start. */
export class DataInconsistencyError extends Error {
  constructor(memberId: bigint) {
    super(`${hexId(memberId)} found data inconsistency with peers`);
    this.name = 'DataInconsistencyError';
  }
}

/** etcd's CheckInitialHashKV: throws DataInconsistencyError when a peer at our compact revision differs. */
export async function checkInitialHashKV(d: CorruptCheckDeps, timeoutMs: number): Promise<void> {
  const me = hexId(d.memberId);
  d.log.info({ 'local-member-id': me, timeout: `${timeoutMs}ms` }, 'starting initial corruption check');
  const local = await d.localHash();
  const peers = await d.peerHashes(local.revision);
  let mismatch = 0;
  for (const p of peers) {
    const base = {
      'local-member-id': me,
      'local-member-revision': local.revision,
      'local-member-compact-revision': local.compactRevision,
      'local-member-hash': local.hash,
      'remote-peer-id': hexId(p.memberId),
      'remote-peer-endpoints': p.endpoints,
    };
    if (p.resp) {
      if (p.resp.hash === local.hash) continue;
      const fields = {
        ...base,
        'remote-peer-revision': p.resp.revision,
        'remote-peer-compact-revision': p.resp.compactRevision,
        'remote-peer-hash': p.resp.hash,
      };
      if (p.resp.compactRevision === local.compactRevision) {
        d.log.warn(fields, 'found different hash values from remote peer');
        mismatch++;
      } else {
        d.log.warn(fields, 'found different compact revision values from remote peer');
      }
    } else if (p.err === 'future') {
      d.log.warn(base, 'cannot fetch hash from slow remote peer');
    } else if (p.err === 'compacted') {
      d.log.warn(base, 'cannot fetch hash from remote peer; local member is behind');
    }
  }
  if (mismatch > 0) throw new DataInconsistencyError(d.memberId);
  d.log.info({ 'local-member-id': me }, 'initial corruption checking passed; no corruption');
}

/**
 * One round of etcd's checkHashKV, on the leader. Resolves with whether CORRUPT was raised; rejects when
 * a hash or the barrier fails (the caller logs "failed to check hash KV").
 */
export async function checkHashKV(d: CorruptCheckDeps): Promise<boolean> {
  const first = await d.localHash();
  const peers = await d.peerHashes(first.revision);
  await d.linearizableBarrier();
  const second = await d.localHash();
  let alarmed = false;
  const mismatch = () => {
    if (alarmed) return;
    alarmed = true;
    d.raiseCorrupt().catch((err: unknown) =>
      d.log.warn({ error: (err as Error).message }, 'failed to raise the CORRUPT alarm'),
    );
  };
  if (
    second.hash !== first.hash &&
    second.revision === first.revision &&
    second.compactRevision === first.compactRevision
  ) {
    d.log.warn(
      {
        'revision-1': first.revision,
        'compact-revision-1': first.compactRevision,
        'hash-1': first.hash,
        'revision-2': second.revision,
        'compact-revision-2': second.compactRevision,
        'hash-2': second.hash,
      },
      'found hash mismatch',
    );
    mismatch();
  }
  let checked = 0;
  for (const p of peers) {
    if (!p.resp) continue;
    checked++;
    const peer = hexId(p.memberId);
    if (p.resp.revision > second.revision) {
      d.log.warn(
        {
          'leader-revision': second.revision,
          'follower-revision': p.resp.revision,
          'follower-peer-id': peer,
        },
        "revision from follower must be less than or equal to leader's",
      );
      mismatch();
    }
    if (p.resp.compactRevision > second.compactRevision) {
      d.log.warn(
        {
          'leader-compact-revision': second.compactRevision,
          'follower-compact-revision': p.resp.compactRevision,
          'follower-peer-id': peer,
        },
        "compact revision from follower must be less than or equal to leader's",
      );
      mismatch();
    }
    if (p.resp.compactRevision === first.compactRevision && p.resp.hash !== first.hash) {
      d.log.warn(
        {
          'leader-compact-revision': second.compactRevision,
          'leader-hash': first.hash,
          'follower-compact-revision': p.resp.compactRevision,
          'follower-hash': p.resp.hash,
          'follower-peer-id': peer,
        },
        'same compact revision then hashes must match',
      );
      mismatch();
    }
  }
  d.log.info({ 'number-of-peers-checked': checked }, 'finished peer corruption check');
  return alarmed;
}

/** One-shot timers (cancelled through the returned function). */
export interface CorruptClock {
  after(ms: number, fn: () => void): () => void;
}

const realClock: CorruptClock = {
  after(ms, fn) {
    const t = setTimeout(fn, ms);
    t.unref();
    return () => clearTimeout(t);
  },
};

/**
 * etcd's monitorKVHash: every `intervalMs`, a round of checkHashKV when this member leads. Rounds never
 * overlap (the next wait starts when a round ends). Returns the stop function.
 */
export function monitorKVHash(
  d: CorruptCheckDeps,
  intervalMs: number,
  clock: CorruptClock = realClock,
): () => void {
  d.log.info(
    { 'local-member-id': hexId(d.memberId), interval: `${intervalMs}ms` },
    'enabled corruption checking',
  );
  let stopped = false;
  let cancel = () => {};
  const schedule = () => {
    if (stopped) return;
    cancel = clock.after(intervalMs, () => {
      if (stopped) return;
      if (!d.isLeader()) return schedule();
      checkHashKV(d)
        .catch((err: unknown) => d.log.warn({ error: (err as Error).message }, 'failed to check hash KV'))
        .finally(schedule);
    });
  };
  schedule();
  return () => {
    stopped = true;
    cancel();
  };
}
