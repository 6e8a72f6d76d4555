// The one table mapping server errors to gRPC status codes (and, for store errors, to the message etcd
// puts on the wire). Anything not in the table is a bug: it is logged and answered as Unknown.
import { Code, StatusError, type GrpcStatus } from './status.ts';
import * as E from '../../server/errors.ts';
import { STREAM_DECODE_PREFIX, UNARY_DECODE_PREFIX } from '../../proto/wire_check.ts';
import { ErrCompacted, ErrFutureRev } from '../../mvcc/errors.ts';
import * as M from '../../membership/errors.ts';
import * as A from '../../auth/errors.ts';

type Ctor = abstract new (...args: never[]) => Error;

const table = new Map<Ctor, { code: Code; message?: string }>([
  [E.ErrEmptyKey, { code: Code.INVALID_ARGUMENT }],
  [E.ErrKeyNotFound, { code: Code.INVALID_ARGUMENT }],
  [E.ErrValueProvided, { code: Code.INVALID_ARGUMENT }],
  [E.ErrLeaseProvided, { code: Code.INVALID_ARGUMENT }],
  [E.ErrTooManyOps, { code: Code.INVALID_ARGUMENT }],
  [E.ErrDuplicateKey, { code: Code.INVALID_ARGUMENT }],
  [E.ErrInvalidSortOption, { code: Code.INVALID_ARGUMENT }],
  [E.ErrRequestTooLarge, { code: Code.INVALID_ARGUMENT }],
  // etcd 3.4's table maps it to a client-side error value, not a status: gRPC sends it as Unknown.
  [E.ErrTooManyRequests, { code: Code.UNKNOWN }],
  [E.ErrNoSpace, { code: Code.RESOURCE_EXHAUSTED }],
  [E.ErrCorrupt, { code: Code.DATA_LOSS }],
  [E.ErrLeaseNotFound, { code: Code.NOT_FOUND }],
  [E.ErrLeaseExist, { code: Code.FAILED_PRECONDITION }],
  [E.ErrLeaseTTLTooLarge, { code: Code.OUT_OF_RANGE }],
  [E.ErrStopped, { code: Code.UNAVAILABLE }],
  [E.ErrTimeout, { code: Code.UNAVAILABLE }],
  [E.ErrNoLeader, { code: Code.UNAVAILABLE }],
  [E.ErrLeaderChanged, { code: Code.UNAVAILABLE }],
  [E.ErrTimeoutLeaderTransfer, { code: Code.UNAVAILABLE }],
  [E.ErrTimeoutDueToLeaderFail, { code: Code.UNAVAILABLE }],
  // Outside etcd 3.4's error table: gRPC answers them as Unknown with the bare message.
  [E.ErrProposeDeadline, { code: Code.UNKNOWN }],
  [E.ErrCanceled, { code: Code.UNKNOWN }],
  // etcd 3.4 answers "not capable" as Unavailable (later versions moved it); "not leader" stays FailedPrecondition.
  [E.ErrNotCapable, { code: Code.UNAVAILABLE }],
  [E.ErrNotLeader, { code: Code.FAILED_PRECONDITION }],
  [E.ErrMemberNotFound, { code: Code.NOT_FOUND }],
  [E.ErrBadLeaderTransferee, { code: Code.FAILED_PRECONDITION }],
  [M.ErrMemberBadURLs, { code: Code.INVALID_ARGUMENT }],
  [M.ErrPeerURLExists, { code: Code.FAILED_PRECONDITION }],
  [M.ErrIDExists, { code: Code.FAILED_PRECONDITION }],
  [M.ErrIDNotFound, { code: Code.NOT_FOUND }],
  [M.ErrMemberNotLearner, { code: Code.FAILED_PRECONDITION }],
  [M.ErrLearnerNotReady, { code: Code.FAILED_PRECONDITION }],
  [M.ErrTooManyLearners, { code: Code.FAILED_PRECONDITION }],
  // etcd 3.4's table maps it to a client-side error value, not a status: gRPC sends it as Unknown.
  [M.ErrNotEnoughStartedMembers, { code: Code.UNKNOWN }],
  [M.ErrUnhealthy, { code: Code.UNAVAILABLE }],
  // etcd 3.4's rpctypes for the auth package's errors.
  [A.ErrRootUserNotExist, { code: Code.FAILED_PRECONDITION }],
  [A.ErrRootRoleNotExist, { code: Code.FAILED_PRECONDITION }],
  [A.ErrUserAlreadyExist, { code: Code.FAILED_PRECONDITION }],
  [A.ErrUserEmpty, { code: Code.INVALID_ARGUMENT }],
  [A.ErrUserNotFound, { code: Code.FAILED_PRECONDITION }],
  [A.ErrRoleAlreadyExist, { code: Code.FAILED_PRECONDITION }],
  [A.ErrRoleNotFound, { code: Code.FAILED_PRECONDITION }],
  [A.ErrRoleEmpty, { code: Code.INVALID_ARGUMENT }],
  [A.ErrAuthFailed, { code: Code.INVALID_ARGUMENT }],
  [A.ErrPermissionDenied, { code: Code.PERMISSION_DENIED }],
  [A.ErrRoleNotGranted, { code: Code.FAILED_PRECONDITION }],
  [A.ErrPermissionNotGranted, { code: Code.FAILED_PRECONDITION }],
  [A.ErrAuthNotEnabled, { code: Code.FAILED_PRECONDITION }],
  [A.ErrInvalidAuthToken, { code: Code.UNAUTHENTICATED }],
  [A.ErrInvalidAuthMgmt, { code: Code.INVALID_ARGUMENT }],
  [A.ErrAuthOldRevision, { code: Code.INVALID_ARGUMENT }],
  // Outside etcd 3.4's table: sent as Unknown with the auth package's words.
  [A.ErrNoPasswordUser, { code: Code.UNKNOWN }],
  [A.ErrVerifyOnly, { code: Code.UNKNOWN }],
  [
    ErrCompacted,
    { code: Code.OUT_OF_RANGE, message: 'etcdserver: mvcc: required revision has been compacted' },
  ],
  [
    ErrFutureRev,
    { code: Code.OUT_OF_RANGE, message: 'etcdserver: mvcc: required revision is a future revision' },
  ],
]);

/**
 * A request message that does not decode; the text is the decoder's. `stream`: the message was read
 * from a stream, which grpc-go words differently.
 */
export class UnmarshalError extends Error {
  constructor(
    message: string,
    readonly stream: boolean,
  ) {
    super(message);
    this.name = 'UnmarshalError';
  }
}

/** Maps an error to the status a client sees; `unknown` is true for errors outside the table. */
export function toStatus(err: unknown): GrpcStatus & { unknown: boolean } {
  if (err instanceof StatusError) return { code: err.code, details: err.details, unknown: false };
  if (err instanceof E.ForwardedStatusError) return { code: err.code, details: err.details, unknown: false };
  if (err instanceof UnmarshalError) {
    const prefix = err.stream ? STREAM_DECODE_PREFIX : UNARY_DECODE_PREFIX;
    return { code: Code.INTERNAL, details: prefix + err.message, unknown: false };
  }
  if (err instanceof Error) {
    for (let c: unknown = err.constructor; c && c !== Error; c = Object.getPrototypeOf(c)) {
      const hit = table.get(c as Ctor);
      if (hit) return { code: hit.code, details: hit.message ?? err.message, unknown: false };
    }
  }
  return { code: Code.UNKNOWN, details: err instanceof Error ? err.message : String(err), unknown: true };
}
