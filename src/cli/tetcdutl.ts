// `tetcdutl`: offline data tools, as etcdutl's (and etcdctl 3.4's `snapshot`) commands:
//   snapshot status FILE              hash, revision, keys and size of an etcd or tetcd snapshot
//   snapshot restore FILE ...         a tetcd data dir from an etcd or tetcd snapshot
//   migrate --from-etcd-data-dir DIR  a tetcd data dir from a stopped etcd 3.4 member's data dir
//   hashkv --data-dir D [--rev N]     the KV hash HashKV gives, from a stopped member's data dir
//   defrag --data-dir D               a stopped member's backend compacted into a new file
// Errors are one line on stderr ("Error: ..."), exit status 1; progress goes to stderr on a TTY.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { snapshotStatus } from '../snap/etcd_file.ts';
import { restoreSnapshot, type RestoreConfig } from '../server/snapshot_restore.ts';
import { idHex } from '../pkg/ids.ts';
import { defragOffline, hashKVOffline } from '../server/offline_tools.ts';
import { formatHashKV, formatStatus, humanBytes, WRITE_OUT, type WriteOut } from './tetcdutl_format.ts';

function fail(err: unknown): never {
  const msg = err instanceof Error ? err.message : String(err);
  process.stderr.write(`Error: ${msg.split('\n')[0]}\n`);
  process.exit(1);
}

/** A progress line rewritten in place, on a TTY only. */
function progress(): { update(text: string): void; done(): void } {
  const tty = process.stderr.isTTY === true;
  let last = 0;
  let shown = false;
  return {
    update(text) {
      if (!tty) return;
      const now = Date.now();
      if (now - last < 100) return;
      last = now;
      shown = true;
      process.stderr.write(`\r\x1b[K${text}`);
    },
    done() {
      if (shown) process.stderr.write('\r\x1b[K');
    },
  };
}

const pct = (d: number, t: number) => (t > 0 ? Math.min(100, Math.floor((d * 100) / t)) : 100);

interface ClusterOpts {
  dataDir?: string;
  walDir?: string;
  name: string;
  initialCluster: string;
  initialClusterToken: string;
  initialAdvertisePeerUrls: string;
  writeOut: WriteOut;
}

function clusterOptions(cmd: Command): Command {
  return cmd
    .option('--data-dir <dir>', 'Path to the data directory (default "<name>.etcd")')
    .option('--wal-dir <dir>', 'Path to the WAL directory (default <data-dir>/member/wal)')
    .option('--name <name>', 'Human-readable name for this member', 'default')
    .option(
      '--initial-cluster <members>',
      'Initial cluster configuration for restore bootstrap',
      'default=http://localhost:2380',
    )
    .option(
      '--initial-cluster-token <token>',
      'Initial cluster token for the etcd cluster during restore bootstrap',
      'etcd-cluster',
    )
    .option(
      '--initial-advertise-peer-urls <urls>',
      "List of this member's peer URLs to advertise to the rest of the cluster",
      'http://localhost:2380',
    );
}

async function runRestore(dbPath: string, o: ClusterOpts, skipHashCheck: boolean): Promise<void> {
  const p = progress();
  const cfg: RestoreConfig = {
    dbPath,
    dataDir: o.dataDir ?? `${o.name}.etcd`,
    walDir: o.walDir,
    name: o.name,
    initialCluster: o.initialCluster,
    initialClusterToken: o.initialClusterToken,
    initialAdvertisePeerUrls: o.initialAdvertisePeerUrls.split(',').filter((u) => u !== ''),
    skipHashCheck,
    onProgress: (phase, d, t) =>
      p.update(
        `${phase === 'verify' ? 'verifying sha256' : 'restoring'}: ${humanBytes(d)} / ${humanBytes(t)} (${pct(d, t)}%)`,
      ),
  };
  try {
    const r = await restoreSnapshot(cfg);
    p.done();
    const out = {
      msg: 'restored snapshot',
      path: dbPath,
      'data-dir': cfg.dataDir,
      'member-id': idHex(r.memberId),
      'cluster-id': idHex(r.clusterId),
      keys: r.keys,
      'consistent-index': r.consistentIndex,
    };
    if (o.writeOut === 'json') process.stdout.write(JSON.stringify(out) + '\n');
    else process.stderr.write(JSON.stringify({ level: 'info', ts: new Date().toISOString(), ...out }) + '\n');
  } catch (err) {
    p.done();
    fail(err);
  }
}

export function program(): Command {
  const prog = new Command('tetcdutl')
    .description('Offline data tools for tetcd (and etcd 3.4 snapshots and data dirs)')
    .addOption(
      new Option('-w, --write-out <format>', 'set the output format').choices(WRITE_OUT).default('simple'),
    )
    .configureOutput({
      outputError: (s, write) => write(s.startsWith('error: ') ? `Error: ${s.slice(7)}` : s),
    });

  const snapshot = prog.command('snapshot').description('Manages etcd node snapshots');
  snapshot
    .command('status')
    .argument('<filename>', 'the snapshot file')
    .description('Gets backend snapshot status of a given file')
    .action((file: string) => {
      const w = prog.opts<{ writeOut: WriteOut }>().writeOut;
      if (!existsSync(file)) fail(`stat ${file}: no such file or directory`);
      const p = progress();
      try {
        const s = snapshotStatus(file, (keys) => p.update(`reading: ${keys} keys`));
        p.done();
        process.stdout.write(formatStatus(s, w));
      } catch (err) {
        p.done();
        fail(err);
      }
    });
  clusterOptions(
    snapshot
      .command('restore')
      .argument('<filename>', 'the snapshot file')
      .description('Restores a tetcd member snapshot (etcd 3.4 or tetcd) to a tetcd data directory'),
  )
    .option(
      '--skip-hash-check',
      'Ignore snapshot integrity hash value (required if copied from data directory)',
      false,
    )
    .action(async (file: string, o: ClusterOpts & { skipHashCheck: boolean }) => {
      if (!existsSync(file)) fail(`stat ${file}: no such file or directory`);
      await runRestore(
        file,
        { ...o, writeOut: prog.opts<{ writeOut: WriteOut }>().writeOut },
        o.skipHashCheck,
      );
    });
  clusterOptions(
    prog
      .command('migrate')
      .description(
        "Converts a stopped etcd 3.4 member's data dir into a tetcd data dir (its keys, revisions, leases, users; the members from --initial-cluster, as a restore)",
      )
      .requiredOption('--from-etcd-data-dir <dir>', "the etcd member's --data-dir"),
  ).action(async (o: ClusterOpts & { fromEtcdDataDir: string }) => {
    const db = join(o.fromEtcdDataDir, 'member', 'snap', 'db');
    if (!existsSync(db)) fail(`${o.fromEtcdDataDir} is not an etcd data dir: ${db} not found`);
    await runRestore(db, { ...o, writeOut: prog.opts<{ writeOut: WriteOut }>().writeOut }, true);
  });
  prog
    .command('hashkv')
    .description("Prints the KV history hash of a stopped member's data dir (what HashKV answers)")
    .requiredOption('--data-dir <dir>', 'Path to the data directory')
    .option('--rev <revision>', 'maximum revision to hash (default: latest revision)', '0')
    .action(async (o: { dataDir: string; rev: string }) => {
      const rev = Number(o.rev);
      if (!Number.isSafeInteger(rev) || rev < 0) fail(`invalid --rev ${JSON.stringify(o.rev)}`);
      try {
        const r = await hashKVOffline(o.dataDir, rev);
        process.stdout.write(formatHashKV(r, prog.opts<{ writeOut: WriteOut }>().writeOut));
      } catch (err) {
        fail(err);
      }
    });
  prog
    .command('defrag')
    .description("Defragments a stopped member's data dir (online: etcdctl defrag)")
    .requiredOption('--data-dir <dir>', 'Required. Defragments a data directory not in use by tetcd.')
    .action(async (o: { dataDir: string }) => {
      try {
        const r = await defragOffline(o.dataDir);
        process.stderr.write(
          JSON.stringify({
            level: 'info',
            ts: new Date().toISOString(),
            msg: 'defragmented',
            'data-dir': o.dataDir,
            'size-before': r.sizeBefore,
            'size-after': r.sizeAfter,
          }) + '\n',
        );
      } catch (err) {
        fail(
          `Failed to defragment etcd data[${o.dataDir}] (${err instanceof Error ? err.message : String(err)})`,
        );
      }
    });
  return prog;
}

program()
  .parseAsync(process.argv)
  .catch((err: unknown) => fail(err));
