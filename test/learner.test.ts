// A learner refuses what etcd 3.4 refuses on a learner, with etcd's words and code: the same etcdctl 3.4
// session against a learner of etcd and of tetcd (a one-member cluster, `member add --learner`, the
// learner started with --initial-cluster-state existing), transcripts compared after masking what
// legitimately differs (IDs, terms, indexes, sizes, versions). A Watch stream is refused at its opening.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { etcdctl, haveEtcd } from './helpers/procs.ts';
import { DiffCluster, type Kind, type Member } from './helpers/diff_cluster.ts';
import { Client } from './helpers/client.ts';
import { messageType } from '../src/proto/index.ts';

const SESSION: string[][] = [
  ['put', 'b', '2'],
  ['get', 'a'],
  ['get', 'a', '--consistency=s'],
  ['get', 'a', '--consistency=s', '-w', 'json'],
  ['del', 'a'],
  ['txn'],
  ['lease', 'grant', '100'],
  ['lease', 'revoke', '1234'],
  ['lease', 'keep-alive', '--once', '1234'],
  ['lease', 'timetolive', '1234'],
  ['lease', 'list'],
  ['member', 'list'],
  ['member', 'add', 'x', '--peer-urls=http://127.0.0.1:9'],
  ['member', 'remove', '1234'],
  ['member', 'promote', '1234'],
  ['endpoint', 'status'],
];

/**
 * One etcdctl result in a comparable form: clientv3's retry warnings reduced to their message and
 * error with a count of repeats, IDs, revisions, terms, sizes and the version masked.
 */
function normalize(out: string): string {
  const lines: string[] = [];
  let last = '';
  let n = 0;
  const flush = () => {
    if (n > 0) lines.push(n > 1 ? `${last} (x${n})` : last);
  };
  for (const raw of out.split('\n')) {
    let line = raw;
    if (line.startsWith('{"level"')) {
      const j = JSON.parse(line) as Record<string, string>;
      line = `[${j['level']}] ${j['msg']}: ${j['error'] ?? ''}`;
    }
    line = line
      // etcdctl prints IDs with %x (a leading zero nibble drops a digit) or %16x (space-padded).
      .replace(/\b[0-9a-f]{10,16}\b/g, '<id>')
      .replace(/ +<id>/g, ' <id>')
      .replace(
        /"(cluster_id|member_id|ID|id|revision|raft_term|mod_revision|create_revision)":\d+/g,
        '"$1":0',
      )
      .replace(
        /^(127\.0\.0\.1:\d+), <id>, [^,]+, [^,]+, (\w+), (\w+), \d+, \d+, \d+, /,
        '$1, <id>, V, SIZE, $2, $3, T, I, A, ',
      )
      .replace(/127\.0\.0\.1:\d+/g, 'HOST');
    if (line === last) {
      n++;
      continue;
    }
    flush();
    last = line;
    n = 1;
  }
  flush();
  return lines.join('\n');
}

interface Transcript {
  steps: string[];
  watch: string;
  /** After the learner's promotion (through the voter), etcdctl put against it. */
  afterPromotion: string;
}

async function waitFor(what: string, fn: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > until) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Opens a Watch stream and reports how it ends (or 'open' if it is still running after `ms`). */
function watchOutcome(endpoint: string, ms = 3000): Promise<string> {
  const WatchRequest = messageType('etcdserverpb.WatchRequest');
  const ch = new grpc.Client(endpoint, grpc.credentials.createInsecure());
  const call = ch.makeBidiStreamRequest(
    '/etcdserverpb.Watch/Watch',
    (v: object) => Buffer.from(WatchRequest.encode(WatchRequest.fromObject(v)).finish()),
    (b: Buffer) => b,
  );
  return new Promise((resolve) => {
    const done = (s: string) => {
      clearTimeout(t);
      call.cancel();
      ch.close();
      resolve(s);
    };
    const t = setTimeout(() => done('open'), ms);
    call.on('data', () => done('data'));
    call.on('error', (e: grpc.ServiceError) => done(`${e.code} ${e.details}`));
    call.write({ createRequest: { key: Buffer.from('a') } });
  });
}

async function learnerSession(kind: Kind): Promise<{ t: Transcript; c: DiffCluster }> {
  const c = await DiffCluster.start(kind, 1);
  const m1 = c.members[0]!;
  const put = await etcdctl(m1.endpoint, ['put', 'a', '1']);
  assert.equal(put.code, 0, put.stderr);
  const l: Member = await c.newMember('l1');
  const add = await etcdctl(m1.endpoint, ['member', 'add', l.name, '--learner', `--peer-urls=${l.peerUrl}`]);
  assert.equal(add.code, 0, add.stderr);
  await c.launch(l, `${m1.name}=${m1.peerUrl},${l.name}=${l.peerUrl}`, 'existing');
  // The learner has caught up once a serializable read there sees the key.
  const cl = new Client(l.endpoint);
  try {
    await waitFor(`${kind} learner catch-up`, async () => {
      try {
        const r = await cl.range('a', { serializable: true });
        return (r['kvs'] as unknown[]).length === 1;
      } catch {
        return false;
      }
    });
  } finally {
    cl.close();
  }
  const steps: string[] = [];
  for (const args of SESSION) {
    const input = args[0] === 'txn' ? '\nput x 1\n\n\n' : undefined;
    const r = await etcdctl(l.endpoint, args, input);
    steps.push(
      `$ etcdctl ${args.join(' ')}\n${normalize(r.stdout)}\n--- stderr\n${normalize(r.stderr)}\n--- exit ${r.code}`,
    );
  }
  const watch = await watchOutcome(l.endpoint);
  const id = /Member +([0-9a-f]+) added/.exec(add.stdout)![1]!;
  await waitFor(
    `${kind} promotion`,
    async () => (await etcdctl(m1.endpoint, ['member', 'promote', id])).code === 0,
  );
  // The promoted member serves writes: its gate follows the applied conf change.
  let afterPromotion = '';
  await waitFor(`${kind} put on the promoted member`, async () => {
    const r = await etcdctl(l.endpoint, ['put', 'c', '3']);
    afterPromotion = `${r.stdout}--- exit ${r.code}`;
    return r.code === 0;
  });
  return { t: { steps, watch, afterPromotion }, c };
}

describe('a learner, etcdctl 3.4 against etcd 3.4 and tetcd', { skip: !haveEtcd() }, () => {
  const clusters: DiffCluster[] = [];
  const got = new Map<Kind, Transcript>();

  before(async () => {
    for (const kind of ['etcd', 'tetcd'] as const) {
      const { t, c } = await learnerSession(kind);
      clusters.push(c);
      got.set(kind, t);
      if (process.env['LEARNER_DUMP']) console.error(`=== ${kind}\n${t.steps.join('\n')}\nwatch: ${t.watch}`);
      await c.close();
    }
  });
  after(() => Promise.all(clusters.map((c) => c.close())));

  test('etcd refuses on its learner what the issue says (the session is not vacuous)', () => {
    const e = got.get('etcd')!;
    const refused = e.steps.filter((s) => s.includes('etcdserver: rpc not supported for learner'));
    assert.ok(refused.length >= 12, `only ${refused.length} refusals:\n${e.steps.join('\n')}`);
    assert.match(e.steps[2]!, /^a\n1$/m);
  });

  for (const [i, args] of SESSION.entries()) {
    test(`etcdctl ${args.join(' ')}`, () => {
      assert.equal(got.get('tetcd')!.steps[i], got.get('etcd')!.steps[i]);
    });
  }

  test('once promoted, the member serves writes', () => {
    assert.equal(got.get('etcd')!.afterPromotion, 'OK\n--- exit 0');
    assert.equal(got.get('tetcd')!.afterPromotion, got.get('etcd')!.afterPromotion);
  });

  test('a Watch stream is refused at its opening with the learner error (Unavailable)', () => {
    assert.equal(got.get('etcd')!.watch, '14 etcdserver: rpc not supported for learner');
    assert.equal(got.get('tetcd')!.watch, got.get('etcd')!.watch);
  });
});
