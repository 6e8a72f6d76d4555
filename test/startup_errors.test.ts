// Operator errors at startup: each is one line on stderr naming the cause and the fix, exit status 1,
// no stack trace, within a bounded time, and the data dir (and anything else on disk) left as it was.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, haveEtcd, startServer } from './helpers/procs.ts';
import { plainLines, runTetcd, startTetcd, type RunResult } from './helpers/cli_run.ts';

/** Every entry under dir with its type, size and mtime: what "left untouched" compares. */
function listing(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    const st = lstatSync(d);
    out.push(`${d} ${st.isDirectory() ? 'd' : 'f'} ${st.isDirectory() ? '' : st.size} ${st.mtimeMs}`);
    if (st.isDirectory()) for (const n of readdirSync(d).sort()) walk(join(d, n));
  };
  if (existsSync(dir)) walk(dir);
  return out;
}

function oneLine(r: RunResult, line: string): void {
  assert.equal(r.code, 1, r.stderr);
  assert.deepEqual(plainLines(r.stderr), [line], r.stderr);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'a stack trace');
  assert.ok(r.ms < 10_000, `took ${r.ms} ms`);
}

describe('startup errors', () => {
  let root: string;
  let client: number;
  let clientFlags: string[];
  const servers: Server[] = [];
  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'tetcd-startup-'));
    client = await freePort();
    clientFlags = [
      `--listen-client-urls=http://127.0.0.1:${client}`,
      `--advertise-client-urls=http://127.0.0.1:${client}`,
    ];
  });
  after(async () => {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    rmSync(root, { recursive: true, force: true });
  });

  async function occupy(): Promise<number> {
    const port = await freePort();
    const s = createServer();
    await new Promise<void>((r) => s.listen(port, '127.0.0.1', () => r()));
    servers.push(s);
    return port;
  }

  test('a client port in use: etcd\'s "bind: address already in use", and no data dir created', async () => {
    const port = await occupy();
    const dir = join(root, 'client-port');
    const r = await runTetcd([
      `--data-dir=${dir}`,
      `--listen-client-urls=http://127.0.0.1:${port}`,
      `--advertise-client-urls=http://127.0.0.1:${port}`,
    ]);
    oneLine(
      r,
      `tetcd: listen tcp 127.0.0.1:${port}: bind: address already in use (--listen-client-urls http://127.0.0.1:${port}): stop the process listening there or choose another port`,
    );
    assert.equal(existsSync(dir), false);
  });

  test('a peer port in use, the same way', async () => {
    const port = await occupy();
    const dir = join(root, 'peer-port');
    const peer = `http://127.0.0.1:${port}`;
    const r = await runTetcd([
      `--data-dir=${dir}`,
      ...clientFlags,
      `--listen-peer-urls=${peer}`,
      `--initial-advertise-peer-urls=${peer}`,
    ]);
    oneLine(
      r,
      `tetcd: listen tcp 127.0.0.1:${port}: bind: address already in use (--listen-peer-urls ${peer}): stop the process listening there or choose another port`,
    );
    assert.equal(existsSync(dir), false);
  });

  test('a data dir that is a file', async () => {
    const file = join(root, 'a-file');
    writeFileSync(file, 'not a directory\n');
    const was = listing(file);
    oneLine(
      await runTetcd([`--data-dir=${file}`, ...clientFlags]),
      `tetcd: --data-dir "${file}" is a file, not a directory: remove it or choose another --data-dir`,
    );
    assert.deepEqual(listing(file), was);
  });

  test('a data dir that cannot be created: under a file', async () => {
    const file = join(root, 'b-file');
    writeFileSync(file, 'x');
    const was = listing(root);
    oneLine(
      await runTetcd([`--data-dir=${file}/sub/data`, ...clientFlags]),
      `tetcd: cannot create --data-dir "${file}/sub/data": "${file}" is a file, not a directory: choose another --data-dir`,
    );
    assert.deepEqual(listing(root), was);
  });

  test('a data dir that cannot be created: a read-only parent (as root, a /proc path, which refuses root too)', async () => {
    if (process.getuid?.() === 0) {
      const dir = `/proc/tetcd-startup-test-${process.pid}/data`;
      oneLine(
        await runTetcd([`--data-dir=${dir}`, ...clientFlags]),
        `tetcd: cannot create --data-dir "${dir}": no such file or directory: choose another --data-dir, or create it for this user`,
      );
      return;
    }
    const parent = join(root, 'read-only');
    mkdirSync(parent);
    chmodSync(parent, 0o555);
    try {
      oneLine(
        await runTetcd([`--data-dir=${parent}/data`, ...clientFlags]),
        `tetcd: cannot create --data-dir "${parent}/data": "${parent}" is not writable (permission denied): create the directory for this user or choose another --data-dir`,
      );
      assert.deepEqual(readdirSync(parent), []);
    } finally {
      chmodSync(parent, 0o755);
    }
  });

  test("an etcd 3.4 data dir, recognised by bbolt's and the WAL's magic, points at tetcdutl migrate", async (t) => {
    if (!haveEtcd()) return t.skip('etcd not installed');
    const etcd = await startServer('etcd');
    await etcd.stop();
    const dir = etcd.dataDir;
    try {
      const was = listing(dir);
      oneLine(
        await runTetcd([`--data-dir=${dir}`, ...clientFlags]),
        `tetcd: "${dir}" is an etcd data directory (member/snap/db is a bbolt file, member/wal holds etcd's WAL), which tetcd cannot open: convert a copy with 'tetcdutl migrate --from-etcd-data-dir ${dir} --data-dir <new dir>' and start tetcd on that`,
      );
      assert.deepEqual(listing(dir), was);
      // The WAL alone is recognised too (a member whose db went elsewhere).
      rmSync(join(dir, 'member', 'snap'), { recursive: true });
      const r = await runTetcd([`--data-dir=${dir}`, ...clientFlags]);
      assert.match(
        plainLines(r.stderr)[0] ?? '',
        /is an etcd data directory \(member\/wal holds etcd's WAL\)/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('a WAL that is not where --wal-dir says (etcd 3.4 would start a new WAL; tetcd refuses)', () => {
    let dir: string;
    let walDir: string;
    before(async () => {
      dir = join(root, 'member-a');
      walDir = join(root, 'member-b-wal');
      for (const [d, extra] of [
        [dir, []],
        [join(root, 'member-b'), [`--wal-dir=${walDir}`]],
      ] as [string, string[]][]) {
        const h = await startTetcd(
          [`--data-dir=${d}`, ...clientFlags, '--log-level=error', ...extra],
          {},
          client,
        );
        assert.equal(await h.stop(), 0);
      }
    });

    test('the WAL is in <data-dir>/member/wal and --wal-dir points elsewhere', async () => {
      const elsewhere = join(root, 'elsewhere');
      const was = listing(dir);
      oneLine(
        await runTetcd([`--data-dir=${dir}`, `--wal-dir=${elsewhere}`, ...clientFlags]),
        `tetcd: the WAL of this member is in ${dir}/member/wal, not in --wal-dir ${elsewhere}; move its files to ${elsewhere} or start without --wal-dir`,
      );
      assert.deepEqual(listing(dir), was);
      assert.equal(existsSync(elsewhere), false);
    });

    test('the member ran with --wal-dir and is started without it', async () => {
      const d = join(root, 'member-b');
      const was = listing(d).filter((l) => !l.includes('data.mdb-lock'));
      const r = await runTetcd([`--data-dir=${d}`, ...clientFlags]);
      assert.equal(r.code, 1, r.stderr);
      const lines = plainLines(r.stderr);
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0]!, /^tetcd: .*holds no WAL.*--wal-dir/);
      assert.deepEqual(
        listing(d).filter((l) => !l.includes('data.mdb-lock')),
        was,
      );
    });
  });
});
