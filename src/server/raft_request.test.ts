import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fromBigInt, messageType, toNumber } from '../proto/index.ts';
import { decodeRaftRequest, encodeRaftRequest, Op, peekRaftRequest } from './raft_request.ts';
import type { PutRequest } from '../proto/etcdserverpb.ts';

test('a spliced client request decodes back with its wait id', () => {
  const raw = messageType('etcdserverpb.PutRequest')
    .encode({ key: Buffer.from('k'), value: Buffer.from('v'), lease: 7 })
    .finish();
  const id = 0xfedc_ba98_7654_3210n;
  const d = decodeRaftRequest(encodeRaftRequest(id, Op.Put, raw));
  assert.equal(d.id, id);
  assert.equal(d.op, Op.Put);
  const p = d.req as PutRequest;
  assert.equal(Buffer.from(p.key).toString(), 'k');
  assert.equal(Buffer.from(p.value).toString(), 'v');
  assert.equal(toNumber(p.lease), 7);
});

test('an empty request body still names its operation', () => {
  const d = decodeRaftRequest(encodeRaftRequest(1n, Op.Compaction, new Uint8Array(0)));
  assert.equal(d.op, Op.Compaction);
});

test("the spliced encoding is protobufjs's header field followed by its request field", () => {
  const PutRequest = messageType('etcdserverpb.PutRequest');
  const Internal = messageType('etcdserverpb.InternalRaftRequest');
  const raw = PutRequest.encode({ key: Buffer.from('key'), value: Buffer.alloc(300, 1) }).finish();
  const ids = [0n, 1n, 127n, 128n, (1n << 28n) - 1n, 1n << 28n, 0x1234_5678_9abcn, (1n << 64n) - 1n];
  for (const id of ids) {
    const mine = encodeRaftRequest(id, Op.Put, raw);
    // protobufjs writes fields in declaration order (put first); ours puts the header first.
    const ref = Buffer.concat([
      Internal.encode({ header: { ID: fromBigInt(id, true) } }).finish(),
      Internal.encode({ put: PutRequest.decode(raw) }).finish(),
    ]);
    assert.deepEqual(mine, ref, `id ${id}`);
    const head = peekRaftRequest(mine);
    assert.equal(head?.id, id);
    assert.equal(head?.op, Op.Put);
    assert.deepEqual(Buffer.from(mine.subarray(head!.bodyStart, head!.bodyEnd)), Buffer.from(raw));
    assert.equal(decodeRaftRequest(mine).id, id);
  }
});

test('an entry that does not start with a header has no head to peek', () => {
  assert.equal(peekRaftRequest(Uint8Array.of(0x22, 0)), undefined);
});

test('the caller rides in the header (username 2, auth_revision 3) as protobufjs encodes it, and peeks back', () => {
  const PutRequest = messageType('etcdserverpb.PutRequest');
  const Internal = messageType('etcdserverpb.InternalRaftRequest');
  const raw = PutRequest.encode({ key: Buffer.from('k'), value: Buffer.from('v') }).finish();
  for (const auth of [
    { username: 'alice', revision: 7 },
    { username: 'rööt', revision: 2 ** 40 },
    { username: '', revision: 3 },
  ]) {
    const mine = encodeRaftRequest(42n, Op.Put, raw, auth);
    const header: Record<string, unknown> = { ID: fromBigInt(42n, true), authRevision: auth.revision };
    if (auth.username) header['username'] = auth.username;
    const ref = Buffer.concat([
      Internal.encode({ header }).finish(),
      Internal.encode({ put: PutRequest.decode(raw) }).finish(),
    ]);
    assert.deepEqual(mine, ref);
    const head = peekRaftRequest(mine);
    assert.equal(head?.id, 42n);
    assert.equal(head?.op, Op.Put);
    assert.deepEqual(head?.auth, auth);
  }
  assert.equal(peekRaftRequest(encodeRaftRequest(42n, Op.Put, raw))?.auth, undefined, 'no caller: no fields');
});

test('auth entries decode to their request; Attributes is no longer 1100 (auth_user_add)', () => {
  const type = messageType('etcdserverpb.AuthUserAddRequest');
  const req = { name: 'bob', hashedPassword: '$2a$04$x', options: { noPassword: false } };
  const d = decodeRaftRequest(encodeRaftRequest(9n, Op.AuthUserAdd, type.encode(req).finish()));
  assert.equal(d.op, Op.AuthUserAdd);
  assert.equal((d.req as { name: string }).name, 'bob');
  assert.equal((d.req as { hashedPassword: string }).hashedPassword, '$2a$04$x');
  assert.equal(Op.AuthUserAdd, 1100);
  assert.equal(Op.Attributes, 1301);
});
