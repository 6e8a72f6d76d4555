// tetcd's buckets as etcd 3.4 lays them out in its bbolt db, and back. Most buckets are the same bytes
// (key: 17-byte revisions -> mvccpb.KeyValue; lease: 8-byte IDs -> leasepb.Lease; alarm; the auth
// buckets); the rest is converted:
//   meta       consistent_index as is; scheduled/finishedCompactRev: tetcd's 8-byte revision <-> etcd's
//              17-byte revision key; tetcd-only keys (the member's own ID, the cluster ID, the term)
//              never go out, and etcd-only ones are not taken in
//   members    tetcd: 8-byte big-endian ID -> tetcd's member JSON; etcd: the ID in hex -> etcd's
//              Member JSON ({"id":<uint64>,"peerURLs":[..],"isLearner":..,"name":..,"clientURLs":[..]})
//   membersRemoved <-> members_removed (the ID in hex -> "removed")
//   cluster    etcd's clusterVersion ("3.4.0" going out; ignored coming in)
import type { Bucket } from '../backend/schema.ts';
import type { BucketSource } from '../bbolt/writer.ts';

export const ETCD_CLUSTER_VERSION = '3.4.0';

/** Reads one of tetcd's buckets in key order (a read view of the backend, or an export). */
export type BucketReader = (bucket: Bucket) => Iterable<[Buffer, Buffer]>;

const SAME: readonly Bucket[] = ['key', 'lease', 'alarm', 'auth', 'authUsers', 'authRoles'];
const REMOVED = Buffer.from('removed');
const META_KEPT = ['consistent_index', 'finishedCompactRev', 'scheduledCompactRev'];
const COMPACT_KEYS = new Set(['finishedCompactRev', 'scheduledCompactRev']);

const hexId = (id: bigint) => Buffer.from(id.toString(16));

function idFrom8(k: Buffer): bigint {
  return k.readBigUInt64BE(0);
}

function revKey17(main: bigint): Buffer {
  const b = Buffer.alloc(17);
  b.writeBigUInt64BE(main, 0);
  b[8] = 0x5f;
  return b;
}

/** etcd's Member JSON, field for field as Go's encoding/json writes it (the ID as a bare uint64). */
export function etcdMemberJson(tetcdJson: Buffer, id: bigint): Buffer {
  const m = JSON.parse(tetcdJson.toString('utf8')) as {
    name?: string;
    peerURLs?: string[];
    clientURLs?: string[];
    isLearner?: boolean;
  };
  let s = `{"id":${id.toString()},"peerURLs":${JSON.stringify(m.peerURLs ?? [])}`;
  if (m.isLearner) s += ',"isLearner":true';
  if (m.name) s += `,"name":${JSON.stringify(m.name)}`;
  if (m.clientURLs && m.clientURLs.length > 0) s += `,"clientURLs":${JSON.stringify(m.clientURLs)}`;
  return Buffer.from(s + '}');
}

/** tetcd's member JSON from etcd's (the ID from the bucket key: JSON numbers lose 64-bit IDs). */
export function tetcdMemberJson(etcdJson: Buffer, id: bigint): Buffer {
  const m = JSON.parse(etcdJson.toString('utf8')) as {
    name?: string;
    peerURLs?: string[];
    clientURLs?: string[];
    isLearner?: boolean;
  };
  return Buffer.from(
    JSON.stringify({
      id: id.toString(),
      name: m.name ?? '',
      peerURLs: m.peerURLs ?? [],
      clientURLs: m.clientURLs ?? [],
      isLearner: m.isLearner === true,
    }),
  );
}

const byKey = (a: [Buffer, Buffer], b: [Buffer, Buffer]) => Buffer.compare(a[0], b[0]);

/**
 * etcd's buckets over tetcd's: what the bbolt writer takes. The big buckets stream; meta and the
 * member buckets are small and sorted in memory (their keys change form, so their order too).
 */
export function etcdBuckets(read: BucketReader): BucketSource[] {
  const src = (name: string, records: () => Iterable<readonly [Buffer, Buffer]>): BucketSource => ({
    name: Buffer.from(name),
    records,
  });
  const out: BucketSource[] = SAME.map((b) => src(b, () => read(b)));
  out.push(
    src('meta', () => {
      const recs: [Buffer, Buffer][] = [];
      for (const [k, v] of read('meta')) {
        const name = k.toString('latin1');
        if (!META_KEPT.includes(name)) continue;
        if (COMPACT_KEYS.has(name)) {
          if (v.length === 8) recs.push([Buffer.from(k), revKey17(v.readBigUInt64BE(0))]);
        } else recs.push([Buffer.from(k), Buffer.from(v)]);
      }
      return recs.sort(byKey);
    }),
    src('members', () => {
      const recs: [Buffer, Buffer][] = [];
      for (const [k, v] of read('members')) recs.push([hexId(idFrom8(k)), etcdMemberJson(v, idFrom8(k))]);
      return recs.sort(byKey);
    }),
    src('members_removed', () => {
      const recs: [Buffer, Buffer][] = [];
      for (const [k] of read('membersRemoved')) recs.push([hexId(idFrom8(k)), REMOVED]);
      return recs.sort(byKey);
    }),
    src('cluster', () => [[Buffer.from('clusterVersion'), Buffer.from(ETCD_CLUSTER_VERSION)]]),
  );
  return out;
}

/**
 * One record of an etcd bucket as tetcd stores it: [bucket, key, value], or undefined for what tetcd
 * does not keep (the cluster version, etcd-only meta keys, buckets it does not know).
 */
export function fromEtcd(bucket: string, k: Buffer, v: Buffer): [Bucket, Buffer, Buffer] | undefined {
  if ((SAME as readonly string[]).includes(bucket)) return [bucket as Bucket, k, v];
  switch (bucket) {
    case 'meta': {
      const name = k.toString('latin1');
      if (name === 'consistent_index') return v.length === 8 ? ['meta', k, v] : undefined;
      if (COMPACT_KEYS.has(name) && v.length >= 8) {
        const b = Buffer.alloc(8);
        v.copy(b, 0, 0, 8);
        return ['meta', k, b];
      }
      return undefined;
    }
    case 'members': {
      const id = BigInt('0x' + k.toString('latin1'));
      return ['members', id8(id), tetcdMemberJson(v, id)];
    }
    case 'members_removed':
      return ['membersRemoved', id8(BigInt('0x' + k.toString('latin1'))), REMOVED];
    default:
      return undefined;
  }
}

export function id8(id: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(id);
  return b;
}
