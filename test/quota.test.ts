// --quota-backend-bytes and the NOSPACE alarm, etcdctl against tetcd and etcd 3.4 with the same small
// quota: fill -> "database space exceeded" -> alarm list shows NOSPACE -> reads and deletes go on while
// puts, txns with puts and lease grants are refused -> compact -> alarm disarm -> writes work. On a
// single member and on a 3-member cluster; the transcripts must be equal once IDs and revisions are
// masked. etcd needs the defrag between the compaction and the disarm (its quota counts bbolt's
// high-water mark); tetcd counts LMDB's bytes in use, which the compaction lowers already, and its
// defrag only shrinks the file. Both are defragmented, as an operator following etcd's runbook does.
// A CORRUPT alarm (raised through the Alarm RPC) is compared too: every write refused, reads go on.
// tetcd runs as bin/tetcd processes once the flag table marks --quota-backend-bytes implemented, and in
// this process (EtcdServer.start with `quotaBackendBytes`) until then.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { EtcdServer } from '../src/server/server.ts';
import { startClientServer } from '../src/cli/client_port.ts';
import { createLogger } from '../src/pkg/logger.ts';
import { etcdctl, haveEtcd, startServer, type ServerHandle } from './helpers/procs.ts';
import { DiffCluster } from './helpers/diff_cluster.ts';
import { newMember, type Member } from './helpers/cluster.ts';
import { mask } from './helpers/transcript.ts';
import { Client } from './helpers/client.ts';
import { toBigInt } from '../src/proto/index.ts';
import { FLAG_BY_NAME } from '../src/cli/flag_table.ts';

const QUOTA = 300_000;
const VALUE = 'v'.repeat(20_000);
const MAX_FILL = 100;

const VIA_BIN = FLAG_BY_NAME.get('quota-backend-bytes')?.status === 'implemented';

/** `n` tetcd members with the quota: bin/tetcd processes when it takes the flag, else in this process. */
async function startTetcd(n: number, args: string[] = [`--quota-backend-bytes=${QUOTA}`]) {
  if (!VIA_BIN) return startInProcess(n, args.length > 0 ? QUOTA : undefined);
  if (n === 1) {
    const h = await startServer('tetcd', { args });
    return { endpoints: [h.endpoint], close: () => h.destroy() };
  }
  const c = await DiffCluster.start('tetcd', n, { args });
  return { endpoints: c.members.map((m) => m.endpoint), close: () => c.close() };
}

/** tetcd members in this process, each with its client port. */
async function startInProcess(
  n: number,
  quota: number | undefined,
): Promise<{ endpoints: string[]; close(): Promise<void> }> {
  const members: Member[] = [];
  for (let i = 1; i <= n; i++) members.push(await newMember(`m${i}`));
  const initialCluster = members.map((m) => `${m.name}=${m.peerUrl}`).join(',');
  const log = createLogger('error');
  const running = await Promise.all(
    members.map(async (m) => {
      const srv = await EtcdServer.start({
        name: m.name,
        dataDir: m.dataDir,
        advertisePeerUrls: [m.peerUrl],
        listenPeerUrls: [m.peerUrl],
        advertiseClientUrls: [m.clientUrl],
        initialCluster,
        initialClusterToken: 'quota-test',
        heartbeatMs: 100,
        electionTimeoutMs: 1000,
        maxTxnOps: 128,
        maxRequestBytes: 1.5 * 1024 * 1024,
        ...(quota !== undefined ? { quotaBackendBytes: quota } : {}),
        logger: log,
        fatal: (err) => {
          throw err;
        },
      });
      const cs = await startClientServer(srv, log, '127.0.0.1', m.clientPort);
      return { srv, cs };
    }),
  );
  return {
    endpoints: members.map((m) => m.endpoint),
    async close() {
      for (const r of running) await r.cs.close();
      await Promise.all(running.map((r) => r.srv.close()));
      for (const m of members) rmSync(m.dataDir, { recursive: true, force: true });
    },
  };
}

/** Waits until a put goes through (a cluster has elected its leader and every member serves). */
async function waitWritable(endpoints: string[]): Promise<void> {
  const until = Date.now() + 20_000;
  for (const ep of endpoints) {
    for (;;) {
      const r = await etcdctl(ep, ['put', 'ready', 'x']);
      if (r.code === 0) break;
      if (Date.now() > until) throw new Error(`${ep} does not take writes: ${r.stderr}`);
      await new Promise((res) => setTimeout(res, 200));
    }
  }
}

/** The alarms as etcdctl lists them, masked, one line each, without repeats (members may differ). */
function alarmLines(out: string): string {
  return [...new Set(mask(out).split('\n').filter(Boolean))].join('\n');
}

/** The NOSPACE sequence through `eps[0]` (every member is read and defragmented). */
async function sequence(eps: string[]): Promise<string[]> {
  const ep = eps[0]!;
  const all = eps.join(',');
  const t: string[] = [];
  const step = async (label: string, args: string[], input?: string) => {
    const r = await etcdctl(ep, args, input);
    t.push(`${label}: code ${r.code}\n${mask(r.stdout)}${mask(r.stderr)}`);
    return r;
  };

  let filled = 0;
  for (;;) {
    const r = await etcdctl(ep, ['put', 'k', VALUE]);
    if (r.code !== 0) {
      t.push(`fill ends: code ${r.code}\n${mask(r.stdout)}${mask(r.stderr)}`);
      break;
    }
    filled++;
    assert.ok(filled < MAX_FILL, `${MAX_FILL} puts of 20 kB fit a quota of ${QUOTA} bytes`);
  }
  assert.ok(filled > 3, `only ${filled} puts before the quota`);

  const list = await etcdctl(ep, ['alarm', 'list']);
  t.push(`alarm list: code ${list.code}\n${alarmLines(list.stdout)}`);
  // Each member's Status lists the alarm once it applied the entry (a follower may be a little behind).
  let errors: string[] = [];
  for (const until = Date.now() + 3000; ;) {
    const st = await etcdctl(all, ['endpoint', 'status', '-w', 'json']);
    errors = (JSON.parse(st.stdout) as { Status: { errors?: string[] } }[]).map((s) =>
      [...new Set((s.Status.errors ?? []).map(mask))].join(';'),
    );
    if (errors.every((e) => e !== '') || Date.now() > until) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  t.push(`status errors: ${[...new Set(errors)].join(' | ')}`);

  for (const e of eps) {
    const r = await etcdctl(e, ['get', 'k', '--print-value-only']);
    t.push(`get on a member: code ${r.code} value bytes ${r.stdout.trim().length}`);
  }
  await step('put another key', ['put', 'other', 'x']);
  await step('txn with a put', ['txn'], '\n\nput other x\n\n');
  await step('txn with a delete only', ['txn'], '\n\ndel nothing\n\n');
  await step('txn reading only', ['txn'], '\n\nget nothing\n\n');
  await step('lease grant', ['lease', 'grant', '100']);
  await step('delete', ['del', 'nothing']);

  const got = await etcdctl(ep, ['get', 'k', '-w', 'json']);
  const rev = String((JSON.parse(got.stdout) as { header: { revision: string | number } }).header.revision);
  const c = await etcdctl(ep, ['compact', rev, '--physical']);
  t.push(`compact: code ${c.code}\n${c.stdout.replace(rev, '<rev>')}${mask(c.stderr)}`);
  await step('put after compaction, alarm still raised', ['put', 'k', 'x']);
  const d = await etcdctl(all, ['defrag']);
  t.push(`defrag: code ${d.code}\n${d.stdout.replace(/member\[[^\]]*\]/g, 'member[<ep>]')}${mask(d.stderr)}`);
  const off = await etcdctl(ep, ['alarm', 'disarm']);
  t.push(`alarm disarm: code ${off.code}\n${alarmLines(off.stdout)}`);
  await step('alarm list after disarm', ['alarm', 'list']);
  await step('put after disarm', ['put', 'k', 'x']);
  await step('txn with a put after disarm', ['txn'], '\n\nput other x\n\n');
  const g = await etcdctl(ep, ['lease', 'grant', '100']);
  t.push(`lease grant after disarm: code ${g.code}\n${mask(g.stdout)}${mask(g.stderr)}`);
  await step('get after disarm', ['get', 'k', 'other', '--print-value-only']);
  return t;
}

/** The quota gauge's line in /metrics. */
async function quotaMetric(ep: string): Promise<string | undefined> {
  const res = await fetch(`http://${ep}/metrics`, { signal: AbortSignal.timeout(5000) });
  const text = await res.text();
  return text.split('\n').find((l) => l.startsWith('etcd_server_quota_backend_bytes '));
}

describe('NOSPACE on a single member, against etcd 3.4', { timeout: 120_000 }, () => {
  let etcd: ServerHandle | undefined;
  let tetcd: Awaited<ReturnType<typeof startTetcd>> | undefined;
  before(async () => {
    tetcd = await startTetcd(1);
    if (haveEtcd()) etcd = await startServer('etcd', { args: [`--quota-backend-bytes=${QUOTA}`] });
  });
  after(async () => {
    await tetcd?.close();
    await etcd?.destroy();
  });

  test('etcd_server_quota_backend_bytes shows the quota', async (t) => {
    const mine = await quotaMetric(tetcd!.endpoints[0]!);
    assert.equal(mine, `etcd_server_quota_backend_bytes ${QUOTA}`);
    if (!etcd) {
      t.diagnostic('SKIPPED the comparison: etcd 3.4 is not installed');
      return;
    }
    assert.equal(mine, await quotaMetric(etcd.endpoint));
  });

  test('fill, refused, alarm listed, reads go on, compact, disarm, writes work', async (t) => {
    const mine = await sequence(tetcd!.endpoints);
    assert.match(mine[0]!, /etcdserver: mvcc: database space exceeded/);
    assert.match(mine[1]!, /memberID:<id> alarm:NOSPACE/);
    if (!etcd) {
      t.diagnostic('SKIPPED the comparison: etcd 3.4 is not installed');
      return;
    }
    const ref = await sequence([etcd.endpoint]);
    assert.deepEqual(mine, ref);
  });
});

describe('NOSPACE on a 3-member cluster, against etcd 3.4', { timeout: 180_000 }, () => {
  let etcd: DiffCluster | undefined;
  let tetcd: Awaited<ReturnType<typeof startTetcd>> | undefined;
  before(async () => {
    tetcd = await startTetcd(3);
    await waitWritable(tetcd.endpoints);
    if (haveEtcd()) {
      etcd = await DiffCluster.start('etcd', 3, { args: [`--quota-backend-bytes=${QUOTA}`] });
      await waitWritable(etcd.members.map((m) => m.endpoint));
    }
  });
  after(async () => {
    await tetcd?.close();
    await etcd?.close();
  });

  test('the alarm reaches every member; the same sequence gives the same outputs', async (t) => {
    const mine = await sequence(tetcd!.endpoints);
    assert.match(mine[0]!, /etcdserver: mvcc: database space exceeded/);
    if (!etcd) {
      t.diagnostic('SKIPPED the comparison: etcd 3.4 is not installed');
      return;
    }
    const ref = await sequence(etcd.members.map((m) => m.endpoint));
    assert.deepEqual(mine, ref);
  });
});

/** A CORRUPT alarm raised through the Alarm RPC, then etcdctl: which calls are refused, and the disarm. */
async function corruptSequence(ep: string): Promise<string[]> {
  const t: string[] = [];
  const step = async (label: string, args: string[], input?: string) => {
    const r = await etcdctl(ep, args, input);
    t.push(`${label}: code ${r.code}\n${mask(r.stdout)}${mask(r.stderr)}`);
    return r;
  };
  await step('put before', ['put', 'a', '1']);
  const lease = await etcdctl(ep, ['lease', 'grant', '100']);
  const leaseId = /lease ([0-9a-f]+) granted/.exec(lease.stdout)?.[1];
  assert.ok(leaseId, lease.stdout + lease.stderr);
  const c = new Client(ep);
  try {
    const st = await c.call('etcdserverpb.Maintenance', 'Status', {}, 5000);
    const id = toBigInt(st['header']['memberId'], true);
    const r = await c.call(
      'etcdserverpb.Maintenance',
      'Alarm',
      { action: 1, memberID: id.toString(), alarm: 2 },
      5000,
    );
    t.push(`activate: ${mask(JSON.stringify(r))}`);
  } finally {
    c.close();
  }
  await step('alarm list', ['alarm', 'list']);
  await step('get', ['get', 'a']);
  await step('serializable get', ['get', 'a', '--consistency=s']);
  await step('txn reading only', ['txn'], '\n\nget a\n\n');
  await step('put', ['put', 'a', '2']);
  await step('txn with a put', ['txn'], '\n\nput a 2\n\n');
  await step('delete', ['del', 'a']);
  await step('compact', ['compact', '1']);
  await step('lease grant', ['lease', 'grant', '100']);
  await step('lease revoke', ['lease', 'revoke', leaseId]);
  await step('lease timetolive', ['lease', 'timetolive', leaseId]);
  await step('alarm disarm', ['alarm', 'disarm']);
  await step('put after disarm', ['put', 'a', '3']);
  await step('get after disarm', ['get', 'a', '--print-value-only']);
  return t;
}

describe('CORRUPT refuses writes, against etcd 3.4', { timeout: 60_000 }, () => {
  let etcd: ServerHandle | undefined;
  let tetcd: Awaited<ReturnType<typeof startTetcd>> | undefined;
  before(async () => {
    tetcd = await startTetcd(1, []);
    if (haveEtcd()) etcd = await startServer('etcd');
  });
  after(async () => {
    await tetcd?.close();
    await etcd?.destroy();
  });

  test('puts, deletes, txns with writes, compaction, lease grant and revoke refused; reads go on', async (t) => {
    const mine = await corruptSequence(tetcd!.endpoints[0]!);
    assert.match(
      mine.find((l) => l.startsWith('put:'))!,
      /etcdserver: corrupt cluster/,
    );
    if (!etcd) {
      t.diagnostic('SKIPPED the comparison: etcd 3.4 is not installed');
      return;
    }
    const ref = await corruptSequence(etcd.endpoint);
    assert.deepEqual(mine, ref);
  });
});
