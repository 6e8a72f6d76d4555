// Comparing etcdctl transcripts of tetcd and etcd: what differs between any two runs is masked.

/** Member and cluster IDs (and their padding), ports, timestamps and clientv3's target names differ between runs. */
export function mask(s: string): string {
  return (
    s
      .replace(/"ts":"[^"]*"/g, '"ts":"<ts>"')
      .replace(/"target":"[^"]*"/g, '"target":"<target>"')
      .replace(/127\.0\.0\.1:\d+/g, '127.0.0.1:<port>')
      .replace(/\b[0-9a-f]{10,16}\b/g, '<id>')
      .replace(/\b\d{12,20}\b/g, '<id>')
      // etcdctl prints some IDs with %16x: a shorter ID is padded with spaces.
      .replace(/ +<id>/g, ' <id>')
  );
}

/**
 * At the client's deadline etcd's server gives up on the call's context at the same moment and answers
 * Unknown "context deadline exceeded"; whichever comes first wins (both forms seen on etcd 3.4.23 for
 * the same command). A conf change that raft took is answered there with its own timeout error
 * ("request timed out", etcd's parseProposeCtxErr when the member knows no leader by then). Where a
 * step ends at the client's deadline both forms are one; its time must still
 * be compared, so that a server answer at another moment does not pass for it.
 */
export function raced(s: string): string {
  return s
    .replace(/rpc error: code = (Unknown|DeadlineExceeded) desc = context deadline exceeded/g, '<deadline>')
    .replace(/rpc error: code = Unavailable desc = etcdserver: request timed out/g, '<deadline>')
    .replace(/context deadline exceeded|etcdserver: request timed out/g, '<deadline>')
    .replace(/^code (2: <deadline>|4: Deadline exceeded after .*)$/, 'code <deadline>');
}
