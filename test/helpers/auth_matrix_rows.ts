// The rows of the auth permission matrix (test/auth_matrix.test.ts): each RPC with a request that
// succeeds for root, or is refused only after the permission check where root's success would change
// the cluster; the state a request needs (a lease, a held lock, a leader) is made by root first.

export type Any = Record<string, any>;

export const KV = 'etcdserverpb.KV';
export const WATCH = 'etcdserverpb.Watch';
export const LEASE = 'etcdserverpb.Lease';
export const CLUSTER = 'etcdserverpb.Cluster';
export const MAINT = 'etcdserverpb.Maintenance';
export const AUTH = 'etcdserverpb.Auth';
export const LOCK = 'v3lockpb.Lock';
export const ELECTION = 'v3electionpb.Election';

export const b = (s: string) => Buffer.from(s);

/** What a row's request may use: root's calls (for the state a request needs) and the member. */
export interface Ctx {
  /** Unique per cell: names of users, roles, locks and elections a cell creates. */
  tag: string;
  root(svc: string, method: string, req: Any): Promise<Any>;
  memberId: string;
  peerUrl: string;
}

export interface Row {
  name: string;
  svc: string;
  method: string;
  req: (c: Ctx) => Any | Promise<Any>;
  /** The row may drop users' tokens (a password change): fetch every token again after each cell. */
  dropsTokens?: true;
}

export async function grantLease(c: Ctx, key?: string): Promise<string> {
  const id = String((await c.root(LEASE, 'LeaseGrant', { TTL: 600 }))['ID']);
  if (key) await c.root(KV, 'Put', { key: b(key), value: b('v'), lease: id });
  return id;
}

export async function campaign(c: Ctx, name: string): Promise<Any> {
  const lease = await grantLease(c);
  const r = await c.root(ELECTION, 'Campaign', { name: b(name), lease, value: b('v') });
  return r['leader'] as Any;
}

export const ROWS: Row[] = [
  { name: 'Range a1', svc: KV, method: 'Range', req: () => ({ key: b('a1') }) },
  { name: 'Range [a, c)', svc: KV, method: 'Range', req: () => ({ key: b('a'), rangeEnd: b('c') }) },
  { name: 'Range [a, d)', svc: KV, method: 'Range', req: () => ({ key: b('a'), rangeEnd: b('d') }) },
  { name: 'Range all', svc: KV, method: 'Range', req: () => ({ key: b('\0'), rangeEnd: b('\0') }) },
  { name: 'Range x1 (outside)', svc: KV, method: 'Range', req: () => ({ key: b('x1') }) },
  { name: 'Put a1', svc: KV, method: 'Put', req: () => ({ key: b('a1'), value: b('v') }) },
  { name: 'Put x1 (outside)', svc: KV, method: 'Put', req: () => ({ key: b('x1'), value: b('v') }) },
  {
    name: 'Put a1 prevKv',
    svc: KV,
    method: 'Put',
    req: () => ({ key: b('a1'), value: b('v'), prevKv: true }),
  },
  { name: 'DeleteRange a-none', svc: KV, method: 'DeleteRange', req: () => ({ key: b('a-none') }) },
  {
    name: 'DeleteRange a-none prevKv',
    svc: KV,
    method: 'DeleteRange',
    req: () => ({ key: b('a-none'), prevKv: true }),
  },
  { name: 'Txn empty', svc: KV, method: 'Txn', req: () => ({}) },
  {
    name: 'Txn range a1',
    svc: KV,
    method: 'Txn',
    req: () => ({ success: [{ requestRange: { key: b('a1') } }] }),
  },
  {
    name: 'Txn compare a1, put a1 / range a1',
    svc: KV,
    method: 'Txn',
    req: () => ({
      compare: [{ key: b('a1'), target: 'VALUE', result: 'EQUAL', value: b('v') }],
      success: [{ requestPut: { key: b('a1'), value: b('v') } }],
      failure: [{ requestRange: { key: b('a1') } }],
    }),
  },
  {
    name: 'Txn compare x1 (outside), range a1',
    svc: KV,
    method: 'Txn',
    req: () => ({
      compare: [{ key: b('x1'), target: 'VERSION', result: 'GREATER', version: 0 }],
      success: [{ requestRange: { key: b('a1') } }],
    }),
  },
  {
    name: 'Txn delete a-none',
    svc: KV,
    method: 'Txn',
    req: () => ({ success: [{ requestDeleteRange: { key: b('a-none') } }] }),
  },
  {
    name: 'Txn nested put b1',
    svc: KV,
    method: 'Txn',
    req: () => ({
      success: [{ requestTxn: { success: [{ requestPut: { key: b('b1'), value: b('n') } }] } }],
    }),
  },
  {
    name: 'Txn nested range b1 in failure',
    svc: KV,
    method: 'Txn',
    req: () => ({
      compare: [{ key: b('a1'), target: 'VALUE', result: 'EQUAL', value: b('no') }],
      failure: [{ requestTxn: { success: [{ requestRange: { key: b('b1') } }] } }],
    }),
  },
  {
    name: 'Range a1 serializable',
    svc: KV,
    method: 'Range',
    req: () => ({ key: b('a1'), serializable: true }),
  },
  {
    name: 'Range a1 keysOnly countOnly',
    svc: KV,
    method: 'Range',
    req: () => ({ key: b('a1'), keysOnly: true, countOnly: true }),
  },
  {
    name: 'Put a2 with a lease holding x-key (outside)',
    svc: KV,
    method: 'Put',
    req: async (c) => ({ key: b('a2'), value: b('v'), lease: await grantLease(c, `x-key-${c.tag}`) }),
  },
  {
    name: 'Put a2 with a lease holding a-key',
    svc: KV,
    method: 'Put',
    req: async (c) => ({ key: b('a2'), value: b('v'), lease: await grantLease(c, `a-key-${c.tag}`) }),
  },
  {
    name: 'DeleteRange [a-n, a-o)',
    svc: KV,
    method: 'DeleteRange',
    req: () => ({ key: b('a-n'), rangeEnd: b('a-o') }),
  },
  {
    name: 'DeleteRange [b-n, d)',
    svc: KV,
    method: 'DeleteRange',
    req: () => ({ key: b('b-n'), rangeEnd: b('d') }),
  },
  {
    name: 'Txn compare over [a, c), range a1',
    svc: KV,
    method: 'Txn',
    req: () => ({
      compare: [{ key: b('a'), rangeEnd: b('c'), target: 'VERSION', result: 'GREATER', version: 0 }],
      success: [{ requestRange: { key: b('a1') } }],
    }),
  },
  {
    name: 'Txn success range a1, failure put x1 (not taken)',
    svc: KV,
    method: 'Txn',
    req: () => ({
      success: [{ requestRange: { key: b('a1') } }],
      failure: [{ requestPut: { key: b('x1'), value: b('v') } }],
    }),
  },
  {
    name: 'Txn put a1 prevKv',
    svc: KV,
    method: 'Txn',
    req: () => ({ success: [{ requestPut: { key: b('a1'), value: b('v'), prevKv: true } }] }),
  },
  {
    name: 'Compact (latest revision)',
    svc: KV,
    method: 'Compact',
    req: async (c) => {
      const r = await c.root(KV, 'Put', { key: b('zz-compact'), value: b('v') });
      return { revision: String(r['header']['revision']) };
    },
  },
  { name: 'Watch a1', svc: WATCH, method: 'Watch', req: () => ({ createRequest: { key: b('a1') } }) },
  {
    name: 'Watch [a, c)',
    svc: WATCH,
    method: 'Watch',
    req: () => ({ createRequest: { key: b('a'), rangeEnd: b('c') } }),
  },
  {
    name: 'Watch x1 (outside)',
    svc: WATCH,
    method: 'Watch',
    req: () => ({ createRequest: { key: b('x1') } }),
  },
  {
    name: 'Watch from a (to the end)',
    svc: WATCH,
    method: 'Watch',
    req: () => ({ createRequest: { key: b('a'), rangeEnd: b('\0') } }),
  },
  {
    name: 'Watch a1 prevKv',
    svc: WATCH,
    method: 'Watch',
    req: () => ({ createRequest: { key: b('a1'), prevKv: true } }),
  },
  { name: 'LeaseGrant', svc: LEASE, method: 'LeaseGrant', req: () => ({ TTL: 600 }) },
  {
    name: 'LeaseRevoke (lease with a1x attached)',
    svc: LEASE,
    method: 'LeaseRevoke',
    req: async (c) => ({ ID: await grantLease(c, `a1x-${c.tag}`) }),
  },
  {
    name: 'LeaseRevoke (lease without keys)',
    svc: LEASE,
    method: 'LeaseRevoke',
    req: async (c) => ({ ID: await grantLease(c) }),
  },
  {
    name: 'LeaseKeepAlive',
    svc: LEASE,
    method: 'LeaseKeepAlive',
    req: async (c) => ({ ID: await grantLease(c, `a1k-${c.tag}`) }),
  },
  {
    name: 'LeaseTimeToLive keys',
    svc: LEASE,
    method: 'LeaseTimeToLive',
    req: async (c) => ({ ID: await grantLease(c, `a1t-${c.tag}`), keys: true }),
  },
  { name: 'LeaseLeases', svc: LEASE, method: 'LeaseLeases', req: () => ({}) },
  {
    name: 'MemberAdd (peer URL in use)',
    svc: CLUSTER,
    method: 'MemberAdd',
    req: (c) => ({ peerURLs: [c.peerUrl] }),
  },
  { name: 'MemberRemove (unknown ID)', svc: CLUSTER, method: 'MemberRemove', req: () => ({ ID: '4660' }) },
  {
    name: 'MemberUpdate (self, same URL)',
    svc: CLUSTER,
    method: 'MemberUpdate',
    req: (c) => ({ ID: c.memberId, peerURLs: [c.peerUrl] }),
  },
  { name: 'MemberList', svc: CLUSTER, method: 'MemberList', req: () => ({}) },
  { name: 'MemberPromote (unknown ID)', svc: CLUSTER, method: 'MemberPromote', req: () => ({ ID: '4660' }) },
  { name: 'Alarm GET', svc: MAINT, method: 'Alarm', req: () => ({ action: 'GET' }) },
  { name: 'Status', svc: MAINT, method: 'Status', req: () => ({}) },
  { name: 'Defragment', svc: MAINT, method: 'Defragment', req: () => ({}) },
  { name: 'Hash', svc: MAINT, method: 'Hash', req: () => ({}) },
  { name: 'HashKV', svc: MAINT, method: 'HashKV', req: () => ({ revision: 0 }) },
  { name: 'Snapshot', svc: MAINT, method: 'Snapshot', req: () => ({}) },
  { name: 'MoveLeader (self)', svc: MAINT, method: 'MoveLeader', req: (c) => ({ targetID: c.memberId }) },
  {
    name: 'Downgrade (3.5)',
    svc: MAINT,
    method: 'Downgrade',
    req: () => ({ action: 'VALIDATE', version: '3.4.0' }),
  },
  { name: 'AuthEnable (enabled)', svc: AUTH, method: 'AuthEnable', req: () => ({}) },
  { name: 'AuthStatus (3.5)', svc: AUTH, method: 'AuthStatus', req: () => ({}) },
  {
    name: 'Authenticate reader',
    svc: AUTH,
    method: 'Authenticate',
    req: () => ({ name: 'reader', password: 'readerpw' }),
  },
  {
    name: 'Authenticate wrong password',
    svc: AUTH,
    method: 'Authenticate',
    req: () => ({ name: 'reader', password: 'wrong' }),
  },
  { name: 'UserAdd', svc: AUTH, method: 'UserAdd', req: (c) => ({ name: `u-${c.tag}`, password: 'p' }) },
  {
    name: 'UserAdd no_password',
    svc: AUTH,
    method: 'UserAdd',
    req: (c) => ({ name: `un-${c.tag}`, options: { noPassword: true } }),
  },
  { name: 'UserGet reader', svc: AUTH, method: 'UserGet', req: () => ({ name: 'reader' }) },
  { name: 'UserGet root', svc: AUTH, method: 'UserGet', req: () => ({ name: 'root' }) },
  { name: 'UserList', svc: AUTH, method: 'UserList', req: () => ({}) },
  {
    name: 'UserDelete',
    svc: AUTH,
    method: 'UserDelete',
    req: async (c) => {
      await c.root(AUTH, 'UserAdd', { name: `d-${c.tag}`, password: 'p' });
      return { name: `d-${c.tag}` };
    },
  },
  {
    name: 'UserChangePassword victim',
    svc: AUTH,
    method: 'UserChangePassword',
    req: () => ({ name: 'victim', password: 'victimpw' }),
  },
  {
    name: 'UserChangePassword reader (self, same password)',
    svc: AUTH,
    method: 'UserChangePassword',
    req: () => ({ name: 'reader', password: 'readerpw' }),
    dropsTokens: true,
  },
  {
    name: 'UserAdd reader (exists)',
    svc: AUTH,
    method: 'UserAdd',
    req: () => ({ name: 'reader', password: 'x' }),
  },
  {
    name: 'UserGrantRole victim',
    svc: AUTH,
    method: 'UserGrantRole',
    req: () => ({ user: 'victim', role: 'reader-role' }),
  },
  {
    name: 'UserRevokeRole victim',
    svc: AUTH,
    method: 'UserRevokeRole',
    req: async (c) => {
      await c.root(AUTH, 'UserGrantRole', { user: 'victim', role: 'writer-role' });
      return { name: 'victim', role: 'writer-role' };
    },
  },
  { name: 'RoleAdd', svc: AUTH, method: 'RoleAdd', req: (c) => ({ name: `r-${c.tag}` }) },
  { name: 'RoleGet reader-role', svc: AUTH, method: 'RoleGet', req: () => ({ role: 'reader-role' }) },
  { name: 'RoleGet root', svc: AUTH, method: 'RoleGet', req: () => ({ role: 'root' }) },
  { name: 'RoleList', svc: AUTH, method: 'RoleList', req: () => ({}) },
  {
    name: 'RoleDelete',
    svc: AUTH,
    method: 'RoleDelete',
    req: async (c) => {
      await c.root(AUTH, 'RoleAdd', { name: `rd-${c.tag}` });
      return { role: `rd-${c.tag}` };
    },
  },
  {
    name: 'RoleGrantPermission victim-role',
    svc: AUTH,
    method: 'RoleGrantPermission',
    req: () => ({ name: 'victim-role', perm: { permType: 'READ', key: b('q'), rangeEnd: b('r') } }),
  },
  {
    name: 'RoleRevokePermission victim-role',
    svc: AUTH,
    method: 'RoleRevokePermission',
    req: async (c) => {
      await c.root(AUTH, 'RoleGrantPermission', {
        name: 'victim-role',
        perm: { permType: 'WRITE', key: b(`rv-${c.tag}`) },
      });
      return { role: 'victim-role', key: b(`rv-${c.tag}`) };
    },
  },
  {
    name: 'Lock a-lock',
    svc: LOCK,
    method: 'Lock',
    req: async (c) => ({ name: b(`a-lock-${c.tag}`), lease: await grantLease(c) }),
  },
  {
    name: 'Lock x-lock (outside)',
    svc: LOCK,
    method: 'Lock',
    req: async (c) => ({ name: b(`x-lock-${c.tag}`), lease: await grantLease(c) }),
  },
  {
    name: 'Unlock (root holds it)',
    svc: LOCK,
    method: 'Unlock',
    req: async (c) => {
      const lease = await grantLease(c);
      const r = await c.root(LOCK, 'Lock', { name: b(`a-unlock-${c.tag}`), lease });
      return { key: r['key'] };
    },
  },
  {
    name: 'Campaign a-elec',
    svc: ELECTION,
    method: 'Campaign',
    req: async (c) => ({ name: b(`a-elec-${c.tag}`), lease: await grantLease(c), value: b('v') }),
  },
  {
    name: 'Proclaim (root leads)',
    svc: ELECTION,
    method: 'Proclaim',
    req: async (c) => ({ leader: await campaign(c, `a-pro-${c.tag}`), value: b('v2') }),
  },
  { name: 'Leader a-fixed', svc: ELECTION, method: 'Leader', req: () => ({ name: b('a-fixed') }) },
  { name: 'Observe a-fixed', svc: ELECTION, method: 'Observe', req: () => ({ name: b('a-fixed') }) },
  {
    name: 'Resign (root leads)',
    svc: ELECTION,
    method: 'Resign',
    req: async (c) => ({ leader: await campaign(c, `a-res-${c.tag}`) }),
  },
];

/** Rows run once more with the token in the `authorization` metadata key. */
export const AUTHORIZATION_ROWS = ['Range a1', 'Put a1', 'Watch a1', 'UserList', 'Defragment', 'Lock a-lock'];

export const DISABLE: Row = { name: 'AuthDisable', svc: AUTH, method: 'AuthDisable', req: () => ({}) };

/** The JSON gateway's auth-relevant routes, each called as every gateway identity. */
export const GW_ROUTES: { path: string; body: string; mask?: string[] }[] = [
  { path: '/v3/kv/range', body: JSON.stringify({ key: b('a1').toString('base64') }) },
  { path: '/v3/kv/range', body: JSON.stringify({ key: b('x1').toString('base64') }) },
  {
    path: '/v3/kv/put',
    body: JSON.stringify({ key: b('a1').toString('base64'), value: b('v').toString('base64') }),
  },
  { path: '/v3/kv/deleterange', body: JSON.stringify({ key: b('a-none').toString('base64') }) },
  {
    path: '/v3/kv/txn',
    body: JSON.stringify({ success: [{ request_range: { key: b('a1').toString('base64') } }] }),
  },
  { path: '/v3/watch', body: JSON.stringify({ create_request: { key: b('a1').toString('base64') } }) },
  { path: '/v3/lease/grant', body: JSON.stringify({ TTL: 600 }) },
  { path: '/v3/lease/leases', body: '{}' },
  { path: '/v3/cluster/member/list', body: '{}' },
  { path: '/v3/maintenance/status', body: '{}' },
  { path: '/v3/maintenance/alarm', body: '{}' },
  { path: '/v3/lease/revoke', body: JSON.stringify({ ID: '4660' }) },
  { path: '/v3/cluster/member/remove', body: JSON.stringify({ ID: '4660' }) },
  { path: '/v3/maintenance/hash', body: '{}' },
  { path: '/v3/maintenance/defragment', body: '{}' },
  {
    path: '/v3/election/leader',
    body: JSON.stringify({ name: b('a-fixed').toString('base64') }),
    // the leader's key is the election's name and its lease ID
    mask: ['key'],
  },
  { path: '/v3/auth/role/delete', body: JSON.stringify({ role: 'no-such-role' }) },
  { path: '/v3/auth/authenticate', body: JSON.stringify({ name: 'reader', password: 'readerpw' }) },
  { path: '/v3/auth/authenticate', body: JSON.stringify({ name: 'reader', password: 'wrong' }) },
  { path: '/v3/auth/enable', body: '{}' },
  { path: '/v3/auth/user/list', body: '{}' },
  { path: '/v3/auth/user/get', body: JSON.stringify({ name: 'reader' }) },
  { path: '/v3/auth/role/list', body: '{}' },
  { path: '/v3/auth/role/get', body: JSON.stringify({ role: 'reader-role' }) },
  { path: '/v3/auth/user/changepw', body: JSON.stringify({ name: 'victim', password: 'victimpw' }) },
  {
    path: '/v3/auth/role/grant',
    body: JSON.stringify({ name: 'victim-role', perm: { permType: 'READ', key: b('q').toString('base64') } }),
  },
];
