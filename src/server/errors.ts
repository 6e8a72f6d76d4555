// Server errors. Each class carries etcd's exact message (clients parse it); the gRPC edge maps
// classes to status codes in one table (api/grpc/errors.ts). Every one belongs to one request, so
// each derives from ClientError: thrown while applying, it fails that request only.
import { ClientError } from '../pkg/errors.ts';

export class ServerError extends ClientError {}

function def(name: string, message: string): new () => ServerError {
  const C = class extends ServerError {
    constructor() {
      super(message);
      this.name = name;
    }
  };
  Object.defineProperty(C, 'name', { value: name });
  return C;
}

export const ErrEmptyKey = def('ErrEmptyKey', 'etcdserver: key is not provided');
export const ErrKeyNotFound = def('ErrKeyNotFound', 'etcdserver: key not found');
export const ErrValueProvided = def('ErrValueProvided', 'etcdserver: value is provided');
export const ErrLeaseProvided = def('ErrLeaseProvided', 'etcdserver: lease is provided');
export const ErrTooManyOps = def('ErrTooManyOps', 'etcdserver: too many operations in txn request');
export const ErrDuplicateKey = def('ErrDuplicateKey', 'etcdserver: duplicate key given in txn request');
export const ErrInvalidSortOption = def('ErrInvalidSortOption', 'etcdserver: invalid sort option');
export const ErrRequestTooLarge = def('ErrRequestTooLarge', 'etcdserver: request is too large');
export const ErrTooManyRequests = def('ErrTooManyRequests', 'etcdserver: too many requests');
export const ErrNoSpace = def('ErrNoSpace', 'etcdserver: mvcc: database space exceeded');
export const ErrCorrupt = def('ErrCorrupt', 'etcdserver: corrupt cluster');
export const ErrLeaseNotFound = def('ErrLeaseNotFound', 'etcdserver: requested lease not found');
export const ErrLeaseExist = def('ErrLeaseExist', 'etcdserver: lease already exists');
export const ErrLeaseTTLTooLarge = def('ErrLeaseTTLTooLarge', 'etcdserver: too large lease TTL');
export const ErrStopped = def('ErrStopped', 'etcdserver: server stopped');
export const ErrTimeout = def('ErrTimeout', 'etcdserver: request timed out');
export const ErrNoLeader = def('ErrNoLeader', 'etcdserver: no leader');
export const ErrNotCapable = def('ErrNotCapable', 'etcdserver: not capable');
export const ErrMemberNotFound = def('ErrMemberNotFound', 'etcdserver: member not found');
export const ErrBadLeaderTransferee = def('ErrBadLeaderTransferee', 'etcdserver: bad leader transferee');

export const ErrLeaderChanged = def('ErrLeaderChanged', 'etcdserver: leader changed');
export const ErrTimeoutLeaderTransfer = def(
  'ErrTimeoutLeaderTransfer',
  'etcdserver: request timed out, leader transfer took too long',
);
export const ErrNotLeader = def('ErrNotLeader', 'etcdserver: not leader');
export const ErrTimeoutDueToLeaderFail = def(
  'ErrTimeoutDueToLeaderFail',
  'etcdserver: request timed out, possibly due to previous leader failure',
);

/**
 * A request that never reached the log within its time: it waited for a leader that did not come.
 * etcd's raft blocks such a proposal until the request's context ends and passes the bare context
 * error on, which gRPC answers as Unknown "context deadline exceeded" (so clientv3 does not retry it).
 */
export const ErrProposeDeadline = def('ErrProposeDeadline', 'context deadline exceeded');

/** The client cancelled or gave up on a request still waiting (its answer is already out). */
export const ErrCanceled = def('ErrCanceled', 'etcdserver: request cancelled');

/** The leader answered a forwarded request with a non-OK gRPC status: passed on to the client as it is. */
export class ForwardedStatusError extends ClientError {
  constructor(
    readonly code: number,
    readonly details: string,
  ) {
    super(details);
    this.name = 'ForwardedStatusError';
  }
}
