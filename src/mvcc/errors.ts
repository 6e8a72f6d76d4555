// MVCC errors; the gRPC edge prefixes them with "etcdserver: " as etcd does.
export class ErrCompacted extends Error {
  constructor() {
    super('mvcc: required revision has been compacted');
    this.name = 'ErrCompacted';
  }
}

export class ErrFutureRev extends Error {
  constructor() {
    super('mvcc: required revision is a future revision');
    this.name = 'ErrFutureRev';
  }
}
