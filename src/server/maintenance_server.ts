// The member's Maintenance commands (server/api.ts): Status, Hash, HashKV, Defragment, MoveLeader,
// Snapshot and Alarm, over the stores, the raft node, the leadership and the proposer.
import type { Logger } from 'pino';
import type { Backend } from '../backend/backend.ts';
import { hashBackend } from '../backend/hash.ts';
import { backendDefrag, counts } from '../pkg/metrics.ts';
import type { Maintenance, MemberStatus } from './api.ts';
import type { Stores } from './stores.ts';
import type { RaftNode } from './raft_node.ts';
import type { Leadership } from './leadership.ts';
import type { Proposer } from './propose.ts';
import { Op } from './raft_request.ts';
import { exportEtcdSnapshot } from './snapshot_export.ts';

export interface MaintenanceDeps {
  /** The stores of the moment (a snapshot from the leader replaces them). */
  stores(): Stores;
  node: RaftNode;
  leadership: Leadership;
  proposer: Proposer;
  log: Logger;
}

export function memberMaintenance(d: MaintenanceDeps): Maintenance {
  return {
    status: () => memberStatus(d),
    hashKV: (rev) => d.stores().kv.hashKV(rev),
    hash: () => hashNow(d.stores()),
    defragment: () => defragment(d.stores().backend, d.log),
    moveLeader: (target) => d.leadership.moveLeader(target),
    snapshot: () => exportEtcdSnapshot(d.stores().backend),
    alarm: (raw, req) => d.proposer.propose(Op.Alarm, raw, req),
  };
}

/** What Maintenance.Status reports of this member. */
function memberStatus(d: MaintenanceDeps): MemberStatus {
  const stores = d.stores();
  return {
    dbSize: stores.backend.size(),
    dbSizeInUse: stores.backend.sizeInUse(),
    leader: d.node.lead(),
    raftIndex: d.node.committedIndex(),
    raftTerm: d.node.term(),
    raftAppliedIndex: stores.appliedIndex(),
    isLearner: d.node.isLearner(),
    alarms: stores.alarms.get(0),
  };
}

/** The KV store's hashes, read through the store of the moment (a snapshot replaces it). */
export function currentKv(stores: () => Stores) {
  return {
    hashKV: (rev: number) => stores().kv.hashKV(rev),
    rev: () => stores().kv.rev(),
  };
}

/** etcd's store.Hash: the batch is committed first, so the hash covers every applied write. */
export async function hashNow(stores: {
  backend: Backend;
  kv: { rev(): number };
}): Promise<{ hash: number; revision: number }> {
  await stores.backend.commit();
  return { hash: hashBackend(stores.backend), revision: stores.kv.rev() };
}

/**
 * etcd's backend defrag, but online (Backend.defragment: requests go on meanwhile), logged, timed and
 * counted as etcd's (etcd_disk_backend_defrag_duration_seconds, etcd_disk_defrag_inflight).
 */
export async function defragment(backend: Backend, log: Logger): Promise<void> {
  const path = backend.path;
  log.info(
    { path, 'current-db-size-bytes': backend.size(), 'current-db-size-in-use-bytes': backend.sizeInUse() },
    'defragmenting',
  );
  const started = performance.now();
  counts.defragInflight = 1;
  try {
    const r = await backend.defragment();
    const took = (performance.now() - started) / 1000;
    backendDefrag.observe(took);
    log.info(
      {
        path,
        'current-db-size-bytes-diff': r.sizeAfter - r.sizeBefore,
        'current-db-size-bytes': r.sizeAfter,
        'current-db-size-in-use-bytes': backend.sizeInUse(),
        took: `${took.toFixed(3)}s`,
      },
      'defragmented',
    );
  } finally {
    counts.defragInflight = 0;
  }
}
