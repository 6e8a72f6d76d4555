// What a running member tells a member about to join: the cluster ID and the member list, as JSON with
// IDs as decimal strings (64-bit IDs never pass through a JS number). Decoding checks every field, since
// the bytes come off the network.
import type { RaftCluster } from './cluster.ts';
import { type Member, memberFromJson, memberToJson } from './member.ts';

export interface ClusterInfo {
  clusterId: bigint;
  members: Member[];
}

export class ClusterInfoError extends Error {}

export function encodeClusterInfo(cluster: RaftCluster): Uint8Array {
  const body = { clusterId: cluster.clusterId.toString(), members: cluster.members().map(memberToJson) };
  return new TextEncoder().encode(JSON.stringify(body));
}

export function decodeClusterInfo(b: Uint8Array): ClusterInfo {
  let o: unknown;
  try {
    o = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(b));
  } catch (e) {
    throw new ClusterInfoError(`undecodable member list: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (typeof o !== 'object' || o === null) throw new ClusterInfoError('member list is not an object');
  const j = o as Record<string, unknown>;
  const cid = j['clusterId'];
  if (typeof cid !== 'string' || !/^[0-9]{1,20}$/.test(cid)) throw new ClusterInfoError('bad cluster id');
  const clusterId = BigInt(cid);
  if (clusterId === 0n || clusterId >= 1n << 64n) throw new ClusterInfoError('cluster id out of range');
  const raw = j['members'];
  if (!Array.isArray(raw) || raw.length === 0) throw new ClusterInfoError('no members in the member list');
  try {
    return { clusterId, members: raw.map((m) => memberFromJson(m)) };
  } catch (e) {
    throw new ClusterInfoError(e instanceof Error ? e.message : String(e));
  }
}

/** The member whose peer URLs are exactly `urls` (in any order), as etcd matches a joiner. */
export function findMemberByPeerUrls(
  members: readonly Member[],
  urls: readonly string[],
): Member | undefined {
  const want = [...urls].sort().join(',');
  return members.find((m) => [...m.peerURLs].sort().join(',') === want);
}
