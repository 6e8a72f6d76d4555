// gRPC status codes (the numbers of the gRPC spec's status codes) and the error that carries a status
// to the edge of a call unchanged.

export enum Code {
  OK = 0,
  CANCELLED = 1,
  UNKNOWN = 2,
  INVALID_ARGUMENT = 3,
  DEADLINE_EXCEEDED = 4,
  NOT_FOUND = 5,
  ALREADY_EXISTS = 6,
  PERMISSION_DENIED = 7,
  RESOURCE_EXHAUSTED = 8,
  FAILED_PRECONDITION = 9,
  ABORTED = 10,
  OUT_OF_RANGE = 11,
  UNIMPLEMENTED = 12,
  INTERNAL = 13,
  UNAVAILABLE = 14,
  DATA_LOSS = 15,
  UNAUTHENTICATED = 16,
}

export interface GrpcStatus {
  code: Code;
  details: string;
}

/** An error that already is a gRPC status (framing errors, a leader's answer passed on). */
export class StatusError extends Error implements GrpcStatus {
  constructor(
    readonly code: Code,
    readonly details: string,
  ) {
    super(details);
    this.name = 'StatusError';
  }
}
