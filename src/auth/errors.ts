// Auth errors. Each class carries the message etcd 3.4 puts on the wire (its v3rpc table turns the
// auth package's errors into rpctypes' "etcdserver: ..." statuses); the gRPC edge maps classes to codes
// in its one table (api/grpc/errors.ts). Every one belongs to one request, so each is a ClientError.
import { ClientError } from '../pkg/errors.ts';

export class AuthError extends ClientError {
  /**
   * The auth package's own text ("auth: permission denied"), which etcd 3.4 sends as it is (code
   * Unknown) where it skips its error table: the admin Maintenance calls and Alarm.
   */
  readonly raw: string = this.message;
}

function def(name: string, message: string, raw = message): new () => AuthError {
  const C = class extends AuthError {
    override readonly raw = raw;
    constructor() {
      super(message);
      this.name = name;
    }
  };
  Object.defineProperty(C, 'name', { value: name });
  return C;
}

export const ErrRootUserNotExist = def(
  'ErrRootUserNotExist',
  'etcdserver: root user does not exist',
  'auth: root user does not exist',
);
export const ErrRootRoleNotExist = def(
  'ErrRootRoleNotExist',
  'etcdserver: root user does not have root role',
  'auth: root user does not have root role',
);
export const ErrUserAlreadyExist = def(
  'ErrUserAlreadyExist',
  'etcdserver: user name already exists',
  'auth: user already exists',
);
export const ErrUserEmpty = def('ErrUserEmpty', 'etcdserver: user name is empty', 'auth: user name is empty');
export const ErrUserNotFound = def(
  'ErrUserNotFound',
  'etcdserver: user name not found',
  'auth: user not found',
);
export const ErrRoleAlreadyExist = def(
  'ErrRoleAlreadyExist',
  'etcdserver: role name already exists',
  'auth: role already exists',
);
export const ErrRoleNotFound = def(
  'ErrRoleNotFound',
  'etcdserver: role name not found',
  'auth: role not found',
);
export const ErrRoleEmpty = def('ErrRoleEmpty', 'etcdserver: role name is empty', 'auth: role name is empty');
export const ErrAuthFailed = def(
  'ErrAuthFailed',
  'etcdserver: authentication failed, invalid user ID or password',
  'auth: authentication failed, invalid user ID or password',
);
/** Outside etcd 3.4's v3rpc table: sent as Unknown with the auth package's own words. */
export const ErrNoPasswordUser = def(
  'ErrNoPasswordUser',
  'auth: authentication failed, password was given for no password user',
);
export const ErrPermissionDenied = def(
  'ErrPermissionDenied',
  'etcdserver: permission denied',
  'auth: permission denied',
);
export const ErrRoleNotGranted = def(
  'ErrRoleNotGranted',
  'etcdserver: role is not granted to the user',
  'auth: role is not granted to the user',
);
export const ErrPermissionNotGranted = def(
  'ErrPermissionNotGranted',
  'etcdserver: permission is not granted to the role',
  'auth: permission is not granted to the role',
);
export const ErrAuthNotEnabled = def(
  'ErrAuthNotEnabled',
  'etcdserver: authentication is not enabled',
  'auth: authentication is not enabled',
);
export const ErrInvalidAuthToken = def(
  'ErrInvalidAuthToken',
  'etcdserver: invalid auth token',
  'auth: invalid auth token',
);
export const ErrInvalidAuthMgmt = def(
  'ErrInvalidAuthMgmt',
  'etcdserver: invalid auth management',
  'auth: invalid auth management',
);
export const ErrAuthOldRevision = def(
  'ErrAuthOldRevision',
  'etcdserver: revision of auth store is old',
  'auth: revision in header is old',
);
/** A verify-only JWT key (a public key alone) cannot sign: Authenticate fails with it (Unknown). */
export const ErrVerifyOnly = def('ErrVerifyOnly', 'auth: token signing attempted with verify-only key');
