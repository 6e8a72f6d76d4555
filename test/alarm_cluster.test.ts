// Alarms go through the log: raised through one member, every member lists them (and shows them in
// Status), a restarted member still holds them (the alarm bucket), and a disarm through another member
// clears them everywhere.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TestCluster } from './helpers/cluster.ts';
import { Client } from './helpers/client.ts';
import { toBigInt } from '../src/proto/index.ts';

type Any = Record<string, any>;

const NOSPACE = 1;

async function call(endpoint: string, method: string, req: Any): Promise<Any> {
  const c = new Client(endpoint);
  try {
    return await c.call('etcdserverpb.Maintenance', method, req, 10_000);
  } finally {
    c.close();
  }
}

/** The alarms a member lists, as "memberhex:type". */
async function listed(endpoint: string): Promise<string[]> {
  const r = await call(endpoint, 'Alarm', {});
  return ((r['alarms'] ?? []) as Any[]).map(
    (a) => `${toBigInt(a['memberID'], true).toString(16)}:${a['alarm']}`,
  );
}

describe('alarms in a 3-member cluster', { timeout: 60_000 }, () => {
  let c: TestCluster;
  before(async () => {
    c = await TestCluster.start(3, { heartbeatMs: 50, electionMs: 500 });
    await c.waitLeader(15_000);
  });
  after(async () => {
    await c?.close();
  });

  test('raised through one member, listed by all, kept across a restart, disarmed through another', async () => {
    const [m1, m2, m3] = c.members as [(typeof c.members)[0], (typeof c.members)[0], (typeof c.members)[0]];
    const st = await call(m1.endpoint, 'Status', {});
    const id = toBigInt(st['header']['memberId'], true);
    const raised = await call(m1.endpoint, 'Alarm', { action: 1, memberID: id.toString(), alarm: NOSPACE });
    assert.equal(raised['header'], null, 'no header, as etcd');
    const want = [`${id.toString(16)}:${NOSPACE}`];
    assert.deepEqual(await listed(m1.endpoint), want);
    assert.deepEqual(await listed(m3.endpoint), want, 'applied on every member');
    const st3 = await call(m3.endpoint, 'Status', {});
    assert.deepEqual(st3['errors'], [`memberID:${id} alarm:NOSPACE `]);

    await c.stop(m3);
    await c.restart(m3);
    await c.waitLeader(15_000);
    assert.deepEqual(await listed(m3.endpoint), want, 'kept in the alarm bucket across a restart');

    const off = await call(m2.endpoint, 'Alarm', { action: 2, memberID: id.toString(), alarm: NOSPACE });
    assert.deepEqual(
      (off['alarms'] as Any[]).map((a) => a['alarm']),
      [NOSPACE],
    );
    for (const m of [m1, m2, m3]) assert.deepEqual(await listed(m.endpoint), [], m.name);
    const again = await call(m2.endpoint, 'Alarm', { action: 2, memberID: id.toString(), alarm: NOSPACE });
    assert.deepEqual(again['alarms'], [], 'nothing to disarm');
  });
});
