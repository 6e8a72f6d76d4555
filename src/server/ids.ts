// Member and cluster IDs, derived deterministically from the bootstrap flags as etcd does: a member's
// ID from its peer URLs and the cluster token, the cluster ID from the member IDs. IDs are 64-bit:
// bigint everywhere, hex strings in logs and files.
import { createHash } from 'node:crypto';

function first8(data: Buffer): bigint {
  return createHash('sha1').update(data).digest().readBigUInt64BE(0);
}

export function memberIdFor(peerUrls: readonly string[], clusterToken: string): bigint {
  return first8(Buffer.from([...peerUrls].sort().join('') + clusterToken));
}

export function clusterIdFor(memberIds: readonly bigint[]): bigint {
  const b = Buffer.alloc(8 * memberIds.length);
  [...memberIds]
    .sort((a, c) => (a < c ? -1 : a > c ? 1 : 0))
    .forEach((id, i) => b.writeBigUInt64BE(id, i * 8));
  return first8(b);
}

export const idHex = (id: bigint): string => id.toString(16);
