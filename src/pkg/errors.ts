// The two kinds of error (DESIGN.md decision 5, CONVENTIONS 18), told apart by class, never by
// message text:
// - ClientError: belongs to one request (etcd's error table: a missing lease, a compacted revision, a
//   membership check, no leader, a timeout). It fails that request; the member carries on.
// - anything else thrown while applying the log or stepping raft is a bug or a broken invariant: the
//   member stops (fail-stop) rather than go on with a state it does not understand. InvariantError
//   names such a throw where the code checks an invariant itself.

/** An error that belongs to one request; its message is what etcd puts on the wire. */
export class ClientError extends Error {
  constructor(message?: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** A broken invariant (a bug): never a ClientError, so applying or stepping it stops the member. */
export class InvariantError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvariantError';
  }
}
