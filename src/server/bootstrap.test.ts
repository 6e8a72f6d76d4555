import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../pkg/logger.ts';
import { walExists } from '../wal/wal.ts';
import { BootstrapError, openMember, type BootConfig } from './bootstrap.ts';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'tetcd-boot-'));
  dirs.push(d);
  return d;
}

function config(dataDir: string, walDir?: string): BootConfig {
  return {
    name: 'n1',
    dataDir,
    advertisePeerUrls: ['http://127.0.0.1:2380'],
    initialCluster: '',
    initialClusterState: 'new',
    initialClusterToken: 'tok',
    electionTicks: 10,
    preVote: true,
    walDir,
    logger: createLogger('silent'),
  };
}

/** Opens a member, writes one entry to its WAL (as its first Ready would) and closes it. */
async function runOnce(cfg: BootConfig): Promise<bigint> {
  const b = await openMember(cfg);
  await b.wal.save({ term: 1, vote: 0n, commit: 1 }, [{ index: 1, term: 1, data: Buffer.from('e1') }]);
  await b.wal.close();
  await b.backend.close();
  return b.memberId;
}

/** Every file under `dir` with its size and mtime (LMDB's lock file aside: opening the database rewrites it). */
function listing(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else if (n !== 'data.mdb-lock') out.push(`${p} ${st.size} ${st.mtimeMs}`);
    }
  };
  walk(dir);
  return out.sort();
}

test('with --wal-dir the WAL lives there and a restart reads it back', async () => {
  const data = tmp();
  const walDir = join(tmp(), 'wal');
  const id = await runOnce(config(data, walDir));
  assert.ok(walExists(walDir));
  assert.equal(existsSync(join(data, 'member', 'wal')), false, 'no WAL in the data dir');
  const b = await openMember(config(data, walDir));
  try {
    assert.equal(b.memberId, id);
    assert.deepEqual(
      b.contents.entries.map((e) => e.index),
      [1],
    );
  } finally {
    await b.wal.close();
    await b.backend.close();
  }
});

test('a WAL in <data-dir>/member/wal while --wal-dir names another directory is refused, nothing written', async () => {
  const data = tmp();
  await runOnce(config(data));
  const before = listing(data);
  const walDir = join(tmp(), 'wal');
  await assert.rejects(openMember(config(data, walDir)), (e: unknown) => {
    assert.ok(e instanceof BootstrapError);
    assert.equal(
      e.message,
      `the WAL of this member is in ${join(data, 'member', 'wal')}, not in --wal-dir ${walDir}; move its files to ${walDir} or start without --wal-dir`,
    );
    return true;
  });
  assert.equal(existsSync(walDir), false);
  assert.deepEqual(listing(data), before);
  // --wal-dir naming the default place is the default.
  const b = await openMember(config(data, join(data, 'member', 'wal')));
  assert.equal(b.contents.entries.length, 1);
  await b.wal.close();
  await b.backend.close();
});

test('two WALs (one in the data dir, one in --wal-dir) are refused', async () => {
  const data = tmp();
  await runOnce(config(data));
  const walDir = join(tmp(), 'wal');
  await runOnce(config(tmp(), walDir));
  await assert.rejects(
    openMember(config(data, walDir)),
    new BootstrapError(
      `both ${join(data, 'member', 'wal')} and --wal-dir ${walDir} hold a WAL; remove the one that is not this member's`,
    ),
  );
});

test("a member's database without its WAL (started before with --wal-dir) is refused, nothing written", async () => {
  const data = tmp();
  const walDir = join(tmp(), 'wal');
  await runOnce(config(data, walDir));
  const before = listing(data);
  await assert.rejects(
    openMember(config(data)),
    new BootstrapError(
      `${data} holds a member's database but ${join(data, 'member', 'wal')} holds no WAL; start with the --wal-dir this member ran with`,
    ),
  );
  assert.equal(existsSync(join(data, 'member', 'wal')), false);
  assert.deepEqual(listing(data), before);
});
