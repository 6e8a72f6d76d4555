// MVCC errors of one request (a revision out of range); the gRPC edge prefixes them with
// "etcdserver: " as etcd does. A broken store invariant is an InvariantError instead, never one of these.
import { ClientError } from '../pkg/errors.ts';

export class ErrCompacted extends ClientError {
  constructor() {
    super('mvcc: required revision has been compacted');
    this.name = 'ErrCompacted';
  }
}

export class ErrFutureRev extends ClientError {
  constructor() {
    super('mvcc: required revision is a future revision');
    this.name = 'ErrFutureRev';
  }
}
