// --strict-reconfig-check, differential against etcd 3.4.23. A one-member cluster gets a second voter
// that never starts (member add only): the started members (1 of 2) are then too few for another voter
// or for removing the started one. With the check (etcd's default) both are refused at once with
// "etcdserver: re-configuration failed due to not enough started members", sent as Unknown (etcd 3.4's
// error table maps it to a client-side error value, not to a status), and a learner add fails the
// connectivity check ("unhealthy cluster"); with --strict-reconfig-check=false nothing is checked: the
// changes are proposed and wait, with no quorum to commit them, until the client's deadline.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { etcdctl, freePort, haveEtcd, startServer, type ServerHandle } from './helpers/procs.ts';
import { Client, GrpcError } from './helpers/client.ts';
import { mask, raced } from './helpers/transcript.ts';

/** Process start and 2 loaded cores: see test/no_quorum.test.ts. */
const TIME_SLACK_MS = 1500;

interface Step {
  name: string;
  args: (self: string) => string[];
  atDeadline?: boolean;
  /** Lines ordered by random member IDs: sorted. */
  sortLines?: boolean;
}

/** The order of ETCD_INITIAL_CLUSTER's members follows a Go map in etcd: sorted here. */
function sortInitialCluster(s: string): string {
  return s.replace(/ETCD_INITIAL_CLUSTER="([^"]*)"/, (_m, v: string) => {
    return `ETCD_INITIAL_CLUSTER="${v.split(',').sort().join(',')}"`;
  });
}

async function start(kind: 'tetcd' | 'etcd', strict: boolean): Promise<ServerHandle> {
  const peer = `http://127.0.0.1:${await freePort()}`;
  const args = ['--heartbeat-interval', '50', '--election-timeout', '500'];
  // etcd's handle sets its own peer URLs; tetcd's is given the same shape.
  if (kind === 'tetcd') {
    args.push(
      '--listen-peer-urls',
      peer,
      '--initial-advertise-peer-urls',
      peer,
      '--initial-cluster',
      `n1=${peer}`,
    );
  }
  if (!strict) args.push('--strict-reconfig-check=false');
  return startServer(kind, { args });
}

async function selfId(endpoint: string): Promise<string> {
  const r = await etcdctl(endpoint, ['member', 'list', '-w', 'json']);
  assert.equal(r.code, 0, r.stderr);
  const m = /"member_id":(\d+)/.exec(r.stdout);
  assert.ok(m, r.stdout);
  return BigInt(m[1]!).toString(16);
}

async function run(
  h: ServerHandle,
  steps: Step[],
  peers: string[],
): Promise<Map<string, { out: string; ms: number }>> {
  const self = await selfId(h.endpoint);
  const out = new Map<string, { out: string; ms: number }>();
  for (const s of steps) {
    const t0 = performance.now();
    const args = s
      .args(self)
      .map((a) => a.replace(/^PEER(\d)$/, (_m, i: string) => `--peer-urls=${peers[+i]}`));
    const r = await etcdctl(h.endpoint, args);
    const ms = performance.now() - t0;
    const stdout = s.sortLines ? mask(r.stdout).split('\n').sort().join('\n') : r.stdout;
    const text = sortInitialCluster(mask(`exit ${r.code}\n--stdout\n${stdout}--stderr\n${r.stderr}`));
    out.set(s.name, { out: s.atDeadline ? raced(text) : text, ms });
  }
  return out;
}

async function grpcCode(endpoint: string, peer: string): Promise<string> {
  const c = new Client(endpoint);
  try {
    await c.call('etcdserverpb.Cluster', 'MemberAdd', { peerURLs: [peer] }, 3000);
    return 'OK';
  } catch (err) {
    if (!(err instanceof GrpcError)) throw err;
    return `code ${err.code}: ${err.details}`;
  } finally {
    c.close();
  }
}

function compare(
  steps: Step[],
  mine: Map<string, { out: string; ms: number }>,
  theirs: Map<string, { out: string; ms: number }>,
): void {
  for (const s of steps) {
    const a = mine.get(s.name)!;
    const b = theirs.get(s.name)!;
    assert.equal(a.out, b.out, `${s.name}: tetcd vs etcd`);
    assert.ok(
      Math.abs(a.ms - b.ms) < TIME_SLACK_MS,
      `${s.name}: tetcd took ${Math.round(a.ms)} ms, etcd ${Math.round(b.ms)} ms`,
    );
  }
}

describe(
  '--strict-reconfig-check (differential against etcd 3.4)',
  { timeout: 60_000, skip: !haveEtcd() },
  () => {
    const handles: ServerHandle[] = [];
    after(async () => {
      await Promise.all(handles.map((h) => h.destroy()));
    });

    test('on (default): too few started members refuse a voter add and the started member removal (Unknown); a learner add is refused as unhealthy', async () => {
      const steps: Step[] = [
        { name: 'add m2 (never started)', args: () => ['member', 'add', 'm2', 'PEER0'] },
        { name: 'add m3', args: () => ['member', 'add', 'm3', 'PEER1'] },
        { name: 'remove the started member', args: (self) => ['member', 'remove', self] },
        { name: 'add a learner', args: () => ['member', 'add', 'l1', 'PEER2', '--learner'] },
        { name: 'member list', args: () => ['member', 'list'], sortLines: true },
      ];
      const peers = await Promise.all([0, 1, 2, 3].map(async () => `http://127.0.0.1:${await freePort()}`));
      const [t, e] = await Promise.all([start('tetcd', true), start('etcd', true)]);
      handles.push(t, e);
      const [mine, theirs] = await Promise.all([run(t, steps, peers), run(e, steps, peers)]);
      compare(steps, mine, theirs);
      assert.match(mine.get('add m3')!.out, /not enough started members/);
      assert.match(mine.get('remove the started member')!.out, /not enough started members/);
      assert.match(mine.get('add a learner')!.out, /Error: etcdserver: unhealthy cluster/);
      assert.match(mine.get('member list')!.out, /<id>, unstarted, , http:\/\/127\.0\.0\.1:<port>, , false/);
      const [a, b] = await Promise.all([grpcCode(t.endpoint, peers[3]!), grpcCode(e.endpoint, peers[3]!)]);
      assert.equal(a, 'code 2: etcdserver: re-configuration failed due to not enough started members');
      assert.equal(a, b);
    });

    test('off: the same changes are not checked; they wait for a quorum until the client gives up', async () => {
      const steps: Step[] = [
        { name: 'add m2 (never started)', args: () => ['member', 'add', 'm2', 'PEER0'] },
        {
          name: 'add m3',
          args: () => ['--command-timeout=3s', 'member', 'add', 'm3', 'PEER1'],
          atDeadline: true,
        },
        {
          name: 'remove the started member',
          args: (self) => ['--command-timeout=3s', 'member', 'remove', self],
          atDeadline: true,
        },
      ];
      const peers = await Promise.all([0, 1].map(async () => `http://127.0.0.1:${await freePort()}`));
      const [t, e] = await Promise.all([start('tetcd', false), start('etcd', false)]);
      handles.push(t, e);
      const [mine, theirs] = await Promise.all([run(t, steps, peers), run(e, steps, peers)]);
      compare(steps, mine, theirs);
      assert.match(mine.get('add m3')!.out, /Error: <deadline>/);
      assert.ok(mine.get('add m3')!.ms > 2500, 'it waited for the deadline');
    });
  },
);
