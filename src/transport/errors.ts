// Errors of the peer transport. None of them is fatal to the member: the connection is closed and
// raft is told the peer is unreachable.

/** The other side broke the wire protocol (bad frame, oversized frame, undecodable message). */
export class TransportProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TransportProtocolError';
  }
}

/** A peer of another cluster (or a stale address) tried to talk to us, or we to it. */
export class ClusterIdMismatchError extends Error {
  constructor(local: bigint, remote: bigint) {
    super(`cluster ID mismatch: local ${local.toString(16)}, remote ${remote.toString(16)}`);
    this.name = 'ClusterIdMismatchError';
  }
}

/** A connection meant for another member reached us (the peer URL now belongs to someone else). */
export class MemberIdMismatchError extends Error {
  constructor(local: bigint, wanted: bigint) {
    super(`member ID mismatch: this is ${local.toString(16)}, the sender wanted ${wanted.toString(16)}`);
    this.name = 'MemberIdMismatchError';
  }
}
