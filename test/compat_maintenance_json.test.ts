// The Cluster and Maintenance answers as etcdctl 3.4 prints them in -w json, against etcd 3.4.23 on a
// healthy one-member cluster: Cluster responses carry no revision in their header, Alarm answers carry
// no header at all (an empty alarm list prints {}), Status has no errors while there is a leader and no
// alarm. IDs, sizes, raft indexes and the port are masked.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { etcdctl, freePort, haveEtcd, startServer, type ServerHandle } from './helpers/procs.ts';
import { mask } from './helpers/transcript.ts';
import { Client } from './helpers/client.ts';

/** Numbers that differ between two healthy members: sizes, indexes, terms and revisions. */
function maskNumbers(s: string): string {
  return s.replace(
    /"(dbSize|dbSizeInUse|raftIndex|raftAppliedIndex|raftTerm|raft_term|revision)":\d+/g,
    '"$1":<n>',
  );
}

/** A masked member answer with its members in a fixed order (etcd sorts them by their random IDs). */
function membersSorted(masked: string): string {
  const o = JSON.parse(masked.replace(/<(id|n)>/g, '"<$1>"')) as { members: unknown[] };
  o.members = o.members.map((m) => JSON.stringify(m)).sort();
  return JSON.stringify(o);
}

describe(
  'Cluster and Maintenance in -w json, as etcd 3.4 prints them',
  { timeout: 60_000, skip: !haveEtcd() },
  () => {
    const servers: ServerHandle[] = [];
    before(async () => {
      const peer = `http://127.0.0.1:${await freePort()}`;
      servers.push(
        await startServer('tetcd', {
          args: [
            '--listen-peer-urls',
            peer,
            '--initial-advertise-peer-urls',
            peer,
            '--initial-cluster',
            `n1=${peer}`,
          ],
        }),
        await startServer('etcd'),
      );
    });
    after(async () => {
      await Promise.all(servers.map((s) => s.destroy()));
    });

    /** Runs the same command on both and returns [tetcd, etcd], masked. */
    async function both(args: string[]): Promise<[string, string]> {
      const [a, b] = await Promise.all(servers.map((s) => etcdctl(s.endpoint, args)));
      const show = (r: { code: number; stdout: string; stderr: string }) =>
        maskNumbers(mask(`exit ${r.code}\n--stdout\n${r.stdout}--stderr\n${r.stderr}`));
      return [show(a!), show(b!)];
    }

    for (const args of [
      ['member', 'list', '-w', 'json'],
      ['alarm', 'list', '-w', 'json'],
      ['alarm', 'list'],
      ['alarm', 'disarm', '-w', 'json'],
      ['alarm', 'disarm'],
      ['endpoint', 'status', '-w', 'json'],
    ]) {
      test(`etcdctl ${args.join(' ')}`, async () => {
        const [mine, theirs] = await both(args);
        assert.equal(mine, theirs);
      });
    }

    test('member list carries no revision; alarm list -w json prints {}', async () => {
      const [list, alarms] = await both(['member', 'list', '-w', 'json']).then(async (l) => [
        l[0],
        (await both(['alarm', 'list', '-w', 'json']))[0],
      ]);
      assert.doesNotMatch(list!, /"revision"/);
      assert.match(list!, /"header":\{"cluster_id":<id>,"member_id":<id>,"raft_term":<n>\}/);
      assert.match(alarms!, /--stdout\n\{\}\n--stderr/);
    });

    test('an alarm raised over the RPC is listed, shown in Status errors and disarmed as etcd does', async () => {
      const ids = await Promise.all(
        servers.map(async (s) => {
          const r = await etcdctl(s.endpoint, ['endpoint', 'status', '-w', 'json']);
          return /"member_id":(\d+)/.exec(r.stdout)![1]!;
        }),
      );
      const raised = await Promise.all(
        servers.map(async (s, i) => {
          const c = new Client(s.endpoint);
          try {
            // ACTIVATE NOSPACE for this member, twice: the second answers the alarm already raised.
            const req = { action: 1, memberID: ids[i]!, alarm: 1 };
            await c.call('etcdserverpb.Maintenance', 'Alarm', req);
            return JSON.stringify(await c.call('etcdserverpb.Maintenance', 'Alarm', req)).replace(
              ids[i]!,
              '<id>',
            );
          } finally {
            c.close();
          }
        }),
      );
      assert.equal(raised[0], raised[1]);
      for (const args of [
        ['alarm', 'list'],
        ['alarm', 'list', '-w', 'json'],
        ['endpoint', 'status', '-w', 'json'],
        ['alarm', 'disarm', '-w', 'json'],
        ['alarm', 'list', '-w', 'json'],
      ]) {
        const [mine, theirs] = await both(args);
        assert.equal(mine, theirs, args.join(' '));
      }
    });

    test('member add --learner and member remove in -w json', async () => {
      const peer = `http://127.0.0.1:${await freePort()}`;
      const adds = await Promise.all(
        servers.map((s) =>
          etcdctl(s.endpoint, ['member', 'add', 'l1', `--peer-urls=${peer}`, '--learner', '-w', 'json']),
        ),
      );
      const shown = adds.map((r) => {
        assert.equal(r.code, 0, r.stderr);
        return membersSorted(maskNumbers(mask(r.stdout)));
      });
      assert.equal(shown[0], shown[1]);
      assert.doesNotMatch(shown[0]!, /"revision"/);
      const removes = await Promise.all(
        servers.map((s, i) => {
          const id = /"member":\{"ID":(\d+)/.exec(adds[i]!.stdout)![1]!;
          return etcdctl(s.endpoint, ['member', 'remove', BigInt(id).toString(16), '-w', 'json']);
        }),
      );
      const shownRm = removes.map((r) => {
        assert.equal(r.code, 0, r.stderr);
        return membersSorted(maskNumbers(mask(r.stdout)));
      });
      assert.equal(shownRm[0], shownRm[1]);
    });
  },
);
