// Errors the raft core throws to its callers. Messages are etcd-io/raft's, so logs read the same.

export class ErrCompacted extends Error {
  constructor() {
    super('requested index is unavailable due to compaction');
    this.name = 'ErrCompacted';
  }
}

export class ErrSnapOutOfDate extends Error {
  constructor() {
    super('requested index is older than the existing snapshot');
    this.name = 'ErrSnapOutOfDate';
  }
}

export class ErrUnavailable extends Error {
  constructor() {
    super('requested entry at index is unavailable');
    this.name = 'ErrUnavailable';
  }
}

export class ErrSnapshotTemporarilyUnavailable extends Error {
  constructor() {
    super('snapshot is temporarily unavailable');
    this.name = 'ErrSnapshotTemporarilyUnavailable';
  }
}

export class ErrProposalDropped extends Error {
  constructor() {
    super('raft proposal dropped');
    this.name = 'ErrProposalDropped';
  }
}

export class ErrStepLocalMsg extends Error {
  constructor() {
    super('raft: cannot step raft local message');
    this.name = 'ErrStepLocalMsg';
  }
}

export class ErrStepPeerNotFound extends Error {
  constructor() {
    super('raft: cannot step as peer not found');
    this.name = 'ErrStepPeerNotFound';
  }
}
