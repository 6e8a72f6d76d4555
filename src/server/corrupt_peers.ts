// The member's side of the corruption checks (corrupt.ts): answering a peer's HashKV request on the
// peer port, and asking every other member for theirs (etcd does both over its peer HTTP API, so the
// checks need neither the client port nor, with auth on, a token).
import type { Logger } from 'pino';
import { messageType, sat, type Int64 } from '../proto/index.ts';
import type { Header } from '../proto/etcdserverpb.ts';
import { fetchHashKV, PeerRefusedError, type PeerTls } from '../transport/transport.ts';
import { ErrCompacted, ErrFutureRev } from '../mvcc/errors.ts';
import { idHex } from '../pkg/ids.ts';
import type { CorruptCheckDeps, HashAt, PeerHash } from './corrupt.ts';

const HashKVRequest = messageType('etcdserverpb.HashKVRequest');
const HashKVResponse = messageType('etcdserverpb.HashKVResponse');

const FUTURE = new ErrFutureRev().message;
const COMPACTED = new ErrCompacted().message;

interface HashKVSource {
  hashKV(rev: number): Promise<{ hash: number; compactRevision: number; hashRevision: number }>;
  rev(): number;
}

/**
 * Answers a peer's HashKV request as etcd's HashKV handler: the hash at the asked revision, with the
 * store's current revision in the header and the compact revision. Errors (a future or compacted
 * revision) reject; the transport sends their message back.
 */
export function hashKVAnswer(kv: HashKVSource, header: (h: Header) => Header) {
  return async (raw: Uint8Array): Promise<Uint8Array> => {
    const req = HashKVRequest.decode(raw) as unknown as { revision: Int64 };
    const h = await kv.hashKV(sat(req.revision));
    const resp = {
      header: header({ revision: kv.rev() }),
      hash: h.hash,
      compactRevision: h.compactRevision,
    };
    return HashKVResponse.encode(HashKVResponse.fromObject(resp)).finish();
  };
}

/** This member's hash at its current revision, as etcd's HashByRev(0) reports it. */
export async function localHash(kv: HashKVSource): Promise<HashAt> {
  const h = await kv.hashKV(0);
  return { hash: h.hash, revision: h.hashRevision, compactRevision: h.compactRevision };
}

/** Asks every other member (each of its peer URLs in turn until one answers) for its hash at `revision`. */
export async function peerHashes(
  members: readonly { id: bigint; peerURLs: readonly string[] }[],
  self: bigint,
  revision: number,
  timeoutMs: number,
  tls: PeerTls | undefined,
  log: Logger,
): Promise<PeerHash[]> {
  const req = HashKVRequest.encode(HashKVRequest.fromObject({ revision })).finish();
  const out: PeerHash[] = [];
  for (const m of members) {
    if (m.id === self || m.peerURLs.length === 0) continue;
    let last: PeerHash['err'] = undefined;
    let got: PeerHash | undefined;
    for (const url of m.peerURLs) {
      try {
        const raw = await fetchHashKV(url, req, timeoutMs, tls);
        const r = HashKVResponse.decode(raw) as unknown as {
          header?: { revision?: Int64 };
          hash?: number;
          compactRevision?: Int64;
        };
        got = {
          memberId: m.id,
          endpoints: [...m.peerURLs],
          resp: {
            hash: r.hash ?? 0,
            revision: sat(r.header?.revision),
            compactRevision: sat(r.compactRevision),
          },
        };
        break;
      } catch (err) {
        const reason = err instanceof PeerRefusedError ? err.reason : (err as Error).message;
        last = reason === FUTURE ? 'future' : reason === COMPACTED ? 'compacted' : reason;
        log.warn(
          {
            'local-member-id': idHex(self),
            'requested-revision': revision,
            'remote-peer-endpoint': url,
            error: reason,
          },
          'failed hash kv request',
        );
      }
    }
    out.push(
      got ?? { memberId: m.id, endpoints: [...m.peerURLs], ...(last === undefined ? {} : { err: last }) },
    );
  }
  return out;
}

/** What corruptCheckDeps needs of the member. */
export interface CorruptMember {
  memberId: bigint;
  kv: HashKVSource;
  members(): readonly { id: bigint; peerURLs: readonly string[] }[];
  tls: PeerTls | undefined;
  /** etcd's ReqTimeout: the bound of one peer request. */
  timeoutMs: number;
  /** The linearizable-read barrier (undefined: a local read is current already). */
  barrier(): Promise<void> | undefined;
  /** Proposes an Alarm request (already encoded, and decoded) through the log. */
  proposeAlarm(raw: Uint8Array, req: { action: number; memberID: Int64; alarm: number }): Promise<unknown>;
  isLeader(): boolean;
  log: Logger;
}

const AlarmRequest = messageType('etcdserverpb.AlarmRequest');
/** etcd 3.4.23's CORRUPT activation: member 0, since which member is bad is not known. */
const CORRUPT_ACTIVATE = { action: 1, memberID: 0, alarm: 2 };

export function corruptCheckDeps(m: CorruptMember): CorruptCheckDeps {
  return {
    memberId: m.memberId,
    localHash: () => localHash(m.kv),
    peerHashes: (rev) => peerHashes(m.members(), m.memberId, rev, m.timeoutMs, m.tls, m.log),
    linearizableBarrier: () => m.barrier() ?? Promise.resolve(),
    raiseCorrupt: () =>
      m.proposeAlarm(
        AlarmRequest.encode(AlarmRequest.fromObject(CORRUPT_ACTIVATE)).finish(),
        CORRUPT_ACTIVATE,
      ),
    isLeader: () => m.isLeader(),
    log: m.log,
  };
}
