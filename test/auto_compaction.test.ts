// Auto-compaction on a running member, beside etcd 3.4 with the same settings: periodic mode with a
// 2 s retention (etcd takes any Go duration; it records the revision every 200 ms and compacts every
// 2 s to the one recorded 2 s before). Writes made at the start end up below a compacted revision, and
// `etcdctl get --rev` under it gets etcd's error. (Revision mode waits 5 minutes a round, too long for a
// test: its loop is covered by src/server/compactor.test.ts on an injected clock.)
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { EtcdServer } from '../src/server/server.ts';
import { startClientServer } from '../src/cli/client_port.ts';
import { etcdctl, haveEtcd, startServer, type ServerHandle } from './helpers/procs.ts';

const RETENTION = ['--auto-compaction-mode', 'periodic', '--auto-compaction-retention', '2s'];
const PUTS = 5; // revisions 2..6
const DEADLINE_MS = 20_000;

type LogLine = Record<string, unknown> & { msg: string };

interface Member {
  endpoint: string;
  logs(): LogLine[];
  close(): Promise<void>;
}

/** tetcd in this process (the CLI flags are wired to the same ServerConfig options). */
async function startTetcd(): Promise<Member> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tetcd-autocompact-'));
  const lines: LogLine[] = [];
  const log = pino(
    { level: 'info', base: null, messageKey: 'msg', formatters: { level: (label) => ({ level: label }) } },
    { write: (s: string) => void lines.push(JSON.parse(s) as LogLine) },
  );
  const srv = await EtcdServer.start({
    name: 'n1',
    dataDir,
    advertisePeerUrls: ['http://127.0.0.1:2380'],
    initialClusterToken: 'etcd-cluster',
    maxTxnOps: 128,
    maxRequestBytes: 1.5 * 1024 * 1024,
    autoCompactionMode: 'periodic',
    autoCompactionRetention: '2s',
    logger: log,
    fatal: (err) => {
      throw err;
    },
  });
  const cs = await startClientServer(srv, log, '127.0.0.1', 0);
  return {
    endpoint: `127.0.0.1:${cs.port}`,
    logs: () => lines,
    async close() {
      await cs.close();
      await srv.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

function etcdMember(h: ServerHandle): Member {
  return {
    endpoint: h.endpoint,
    logs: () =>
      h
        .stderr()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as LogLine),
    close: () => h.destroy(),
  };
}

/** Puts k=v1..v5, then waits for an auto-compaction at or above the last put's revision. */
async function run(m: Member): Promise<{ compacted: number; below: string; at: string; logs: LogLine[] }> {
  for (let i = 1; i <= PUTS; i++) {
    const r = await etcdctl(m.endpoint, ['put', 'k', `v${i}`]);
    assert.equal(r.code, 0, r.stderr);
  }
  const last = 1 + PUTS;
  const until = performance.now() + DEADLINE_MS;
  let compacted = 0;
  while (compacted < last) {
    assert.ok(performance.now() < until, `no auto-compaction reached revision ${last} in ${DEADLINE_MS} ms`);
    await new Promise((r) => setTimeout(r, 100));
    for (const l of m.logs()) {
      if (l.msg === 'completed auto periodic compaction')
        compacted = Math.max(compacted, Number(l['revision']));
    }
  }
  const below = await etcdctl(m.endpoint, ['get', 'k', '--rev', String(last - 1)]);
  assert.notEqual(below.code, 0, 'a read below the compacted revision fails');
  const at = await etcdctl(m.endpoint, ['get', 'k', '--rev', String(last)]);
  assert.equal(at.code, 0, at.stderr);
  // etcdctl's retry warning (a JSON line naming the gRPC code) is kept without its timing and target.
  const text = below.stderr
    .split('\n')
    .map((l) => (l.startsWith('{') ? String((JSON.parse(l) as { error?: string }).error) : l))
    .join('\n')
    .trim();
  return { compacted, below: text, at: at.stdout, logs: m.logs() };
}

/** The auto-compaction lines, without what is timing (ts, took) or Go-only (caller). */
function compactionLines(logs: LogLine[]): string[] {
  return logs
    .filter((l) => /auto periodic compaction/.test(l.msg))
    .map((l) => {
      const { msg, revision, 'compact-period': period, took } = l;
      assert.equal(typeof took === 'string' || msg.startsWith('starting'), true, JSON.stringify(l));
      return `${String(l['level'])} ${msg} revision=${typeof revision} compact-period=${String(period)}`;
    });
}

describe('auto-compaction, periodic 2s', { timeout: 90_000 }, () => {
  let tetcd: Member | undefined;
  let etcd: Member | undefined;

  before(async () => {
    tetcd = await startTetcd();
    if (haveEtcd())
      etcd = etcdMember(await startServer('etcd', { args: [...RETENTION, '--log-level', 'info'] }));
    else console.warn('SKIP (etcd 3.4 comparison): etcd is not installed');
  });

  after(async () => {
    await tetcd?.close();
    await etcd?.close();
  });

  test('writes end up compacted; get --rev below gets etcd error, as etcd 3.4', async () => {
    const runs = await Promise.all([run(tetcd!), etcd ? run(etcd) : undefined]);
    const [t, e] = runs;
    assert.equal(
      t!.below,
      'rpc error: code = OutOfRange desc = etcdserver: mvcc: required revision has been compacted\n' +
        'Error: etcdserver: mvcc: required revision has been compacted',
    );
    assert.equal(t!.at, 'k\nv5\n');
    const lines = compactionLines(t!.logs);
    assert.ok(lines.includes('info starting auto periodic compaction revision=number compact-period=2s'));
    assert.ok(lines.includes('info completed auto periodic compaction revision=number compact-period=2s'));
    // The first round compacts to the revision recorded when the member started (no write yet).
    const first = t!.logs.find((l) => l.msg === 'starting auto periodic compaction');
    assert.equal(first?.['revision'], 1);
    if (e) {
      assert.equal(t!.below, e.below);
      assert.equal(t!.at, e.at);
      assert.deepEqual([...new Set(lines)].sort(), [...new Set(compactionLines(e.logs))].sort());
      assert.equal(
        first?.['revision'],
        e.logs.find((l) => l.msg === 'starting auto periodic compaction')?.['revision'],
      );
    }
  });
});
