// The storage and election flags on bin/tetcd processes: --wal-dir keeps the WAL on its own directory
// across restarts and a restart that forgets it is refused with one line; --initial-election-tick-advance
// fast-forwards the election timer of a member once its peers are connected, and =false keeps the whole
// election timeout before the first election.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestCluster, type Member } from './helpers/cluster.ts';
import { etcdctl, freePort, haveEtcd, startServer } from './helpers/procs.ts';

const ROOT = new URL('..', import.meta.url).pathname;

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'tetcd-storage-flags-'));
  dirs.push(d);
  return d;
}

/** Runs bin/tetcd to its exit (bounded); returns its exit code and stderr. */
function runToExit(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(join(ROOT, 'bin/tetcd'), args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const t = setTimeout(() => p.kill('SIGKILL'), 20_000);
    p.on('error', reject);
    p.on('exit', (code) => {
      clearTimeout(t);
      resolve({ code, stderr });
    });
  });
}

describe('--wal-dir', { timeout: 60_000, skip: !haveEtcd() }, () => {
  test('the WAL is kept in --wal-dir across restarts; a restart without it is refused', async () => {
    const walDir = join(tmp(), 'wal');
    let s = await startServer('tetcd', { args: ['--wal-dir', walDir] });
    try {
      const put = await etcdctl(s.endpoint, ['put', 'k', 'v']);
      assert.equal(put.code, 0, put.stderr);
      await s.stop();
      assert.ok(
        readdirSync(walDir).some((n) => n.endsWith('.wal')),
        'segments in --wal-dir',
      );
      assert.equal(existsSync(join(s.dataDir, 'member', 'wal')), false, 'none in the data dir');
      s = await s.restart();
      const get = await etcdctl(s.endpoint, ['get', 'k', '--print-value-only']);
      assert.equal(get.stdout, 'v\n');
      await s.stop();
      const url = `http://127.0.0.1:${await freePort()}`;
      const r = await runToExit([
        '--data-dir',
        s.dataDir,
        '--listen-client-urls',
        url,
        '--advertise-client-urls',
        url,
      ]);
      assert.equal(r.code, 1);
      const walInData = join(s.dataDir, 'member', 'wal');
      assert.match(
        r.stderr,
        new RegExp(
          `^tetcd: ${s.dataDir} holds a member's database but ${walInData} holds no WAL; start with the --wal-dir this member ran with$`,
          'm',
        ),
      );
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
      assert.equal(existsSync(walInData), false, 'no WAL was started in the data dir');
    } finally {
      await s.destroy();
    }
  });
});

/** Waits (bounded) until `m` has logged a line with `msg`: lines may reach the pipe a little late. */
async function logged(m: Member, msg: string): Promise<void> {
  const end = Date.now() + 5000;
  while (!logLines(m).some((l) => l.msg === msg)) {
    if (Date.now() > end) throw new Error(`${m.name} never logged "${msg}"`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The JSON log lines of a member's stderr. */
function logLines(m: Member): { msg?: string; ts?: string; [k: string]: unknown }[] {
  return m
    .stderr()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { msg?: string; ts?: string });
}

describe('--initial-election-tick-advance', { timeout: 90_000 }, () => {
  test('by default, a member fast-forwards election ticks - 2 once two peers are connected', async () => {
    const c = await TestCluster.start(3, { electionMs: 2000 });
    try {
      await c.waitLeader(15_000);
      const msg = 'initialized peer connections; fast-forwarding election ticks';
      for (const m of c.members) {
        await logged(m, msg);
        const adv = logLines(m).find((l) => l.msg === msg);
        assert.ok(adv, `${m.name} did not advance`);
        assert.equal(adv['forward-ticks'], 18);
        assert.equal(adv['active-remote-members'], 2);
      }
    } finally {
      await c.close();
    }
  });

  test('=false: no member campaigns before a whole election timeout has passed', async () => {
    const c = await TestCluster.start(3, {
      electionMs: 2000,
      extraArgs: ['--initial-election-tick-advance=false'],
    });
    try {
      const leader = await c.waitLeader(15_000);
      for (const m of c.members) await logged(m, 'skipping initial election tick advance');
      await logged(leader, 'became leader');
      const lines = logLines(leader);
      const ready = lines.find((l) => l.msg === 'member ready');
      const won = lines.find((l) => l.msg === 'became leader');
      assert.ok(ready?.ts && won?.ts);
      const ms = Date.parse(won.ts) - Date.parse(ready.ts);
      // Raft's timer starts just before "member ready"; its first election waits >= 20 ticks of 100 ms.
      assert.ok(ms >= 1800, `leader after ${ms} ms`);
    } finally {
      await c.close();
    }
  });
});
