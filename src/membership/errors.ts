// Membership errors. Each class carries the exact message etcd puts on the wire (clients match on it);
// the gRPC edge (api/grpc/errors.ts) maps the classes to status codes. Each fails one request (a
// membership change or a promote), so each is a ClientError.
import { ClientError } from '../pkg/errors.ts';

export class MembershipError extends ClientError {}

/** A peer URL is not http(s)://host:port, or no URL was given. InvalidArgument. */
export class ErrMemberBadURLs extends MembershipError {
  constructor() {
    super('etcdserver: given member URLs are invalid');
  }
}

/** Another member already advertises one of the peer URLs. FailedPrecondition. */
export class ErrPeerURLExists extends MembershipError {
  constructor() {
    super('etcdserver: Peer URLs already exists');
  }
}

/** A new member's ID collides with a current member. FailedPrecondition. */
export class ErrIDExists extends MembershipError {
  constructor() {
    super('etcdserver: member ID already exist');
  }
}

/** No current member has this ID. NotFound. */
export class ErrIDNotFound extends MembershipError {
  constructor() {
    super('etcdserver: member not found');
  }
}

/** The ID belonged to a removed member; etcd answers it as "member not found" too. */
export class ErrIDRemoved extends ErrIDNotFound {}

/** Promote of a voting member. FailedPrecondition. */
export class ErrMemberNotLearner extends MembershipError {
  constructor() {
    super('etcdserver: can only promote a learner member');
  }
}

/** Promote of a learner whose log match is below 90% of the leader's. FailedPrecondition. */
export class ErrLearnerNotReady extends MembershipError {
  constructor() {
    super('etcdserver: can only promote a learner member which is in sync with leader');
  }
}

/** Adding a learner beyond --max-learners. FailedPrecondition. */
export class ErrTooManyLearners extends MembershipError {
  constructor() {
    super('etcdserver: too many learner members in cluster');
  }
}

/** Strict reconfig check: the change would leave fewer started voters than a quorum. FailedPrecondition. */
export class ErrNotEnoughStartedMembers extends MembershipError {
  constructor() {
    super('etcdserver: re-configuration failed due to not enough started members');
  }
}

/** Strict reconfig check: this member has not heard recently from enough voters. Unavailable. */
export class ErrUnhealthy extends MembershipError {
  constructor() {
    super('etcdserver: unhealthy cluster');
  }
}
