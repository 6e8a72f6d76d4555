import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createServer } from 'node:net';
import { freePort } from '../../test/helpers/procs.ts';
import { fetchMembersInfo, Transport } from './transport.ts';
import { fetchHashKV, PeerRefusedError } from './members_fetch.ts';
import { frame, FrameKind } from './frame.ts';

const open: Transport[] = [];
after(async () => {
  await Promise.all(open.map((t) => t.close()));
});

async function listening(info: () => Uint8Array | undefined): Promise<string> {
  const url = `http://127.0.0.1:${await freePort()}`;
  const t = new Transport({ clusterId: 7n, memberId: 1n, listenUrl: url, membersInfo: info });
  await t.start();
  open.push(t);
  return url;
}

test('a joiner gets the bytes the host gives, without a handshake', async () => {
  const url = await listening(() => new TextEncoder().encode('{"x":1}'));
  const got = await fetchMembersInfo(url, 2000);
  assert.equal(new TextDecoder().decode(got), '{"x":1}');
});

test('a member that cannot answer refuses, and the joiner reports why', async () => {
  const url = await listening(() => undefined);
  await assert.rejects(fetchMembersInfo(url, 2000), /member list not available/);
});

test('nothing listening, a silent peer and a garbage answer are errors, not crashes', async () => {
  const port = await freePort();
  await assert.rejects(fetchMembersInfo(`http://127.0.0.1:${port}`, 2000), /ECONNREFUSED/);
  const silent = createServer(() => {});
  const garbage = createServer((s) => s.end(frame(FrameKind.Msg, new Uint8Array([1, 2]))));
  const [p1, p2] = [await freePort(), await freePort()];
  await new Promise<void>((r) => silent.listen(p1, '127.0.0.1', r));
  await new Promise<void>((r) => garbage.listen(p2, '127.0.0.1', r));
  try {
    await assert.rejects(fetchMembersInfo(`http://127.0.0.1:${p1}`, 100), /no member list/);
    await assert.rejects(fetchMembersInfo(`http://127.0.0.1:${p2}`, 2000), /unexpected frame kind 4/);
  } finally {
    silent.close();
    garbage.close();
  }
});

test('garbage instead of a hello or a members request closes only that connection', async () => {
  const url = await listening(() => new TextEncoder().encode('{}'));
  const port = Number(new URL(url).port);
  const s = connect({ host: '127.0.0.1', port });
  await new Promise((r) => s.once('connect', r));
  s.write(frame(255 as FrameKind, new Uint8Array(3)));
  await new Promise((r) => s.once('close', r));
  // The listener is still serving.
  assert.equal(new TextDecoder().decode(await fetchMembersInfo(url, 2000)), '{}');
});

test('a HashKV request is answered by the host, and an error it meets comes back as the reason', async () => {
  const url = `http://127.0.0.1:${await freePort()}`;
  const seen: number[][] = [];
  const t = new Transport({
    clusterId: 7n,
    memberId: 1n,
    listenUrl: url,
    hashKV: (req) => {
      seen.push([...req]);
      if (req[0] === 0xff) return Promise.reject(new Error('mvcc: required revision is a future revision'));
      return Promise.resolve(new Uint8Array([9, 8, 7]));
    },
  });
  await t.start();
  open.push(t);
  assert.deepEqual([...(await fetchHashKV(url, new Uint8Array([8, 5]), 2000))], [9, 8, 7]);
  assert.deepEqual(seen, [[8, 5]]);
  await assert.rejects(fetchHashKV(url, new Uint8Array([0xff]), 2000), (e: Error) => {
    assert.ok(e instanceof PeerRefusedError);
    assert.equal(e.reason, 'mvcc: required revision is a future revision');
    return true;
  });
});
