// tetcdutl's offline commands on a stopped tetcd member's data dir: `hashkv` (the same hash the
// HashKV RPC gives, etcd's algorithm over the key bucket) and `defrag` (the backend compacted into a
// new file). A member still running on the dir is detected from LMDB's reader table (stale slots of
// dead processes cleared first) and refused: its files would change under it.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { open } from 'lmdb';
import { Backend, type DefragResult } from '../backend/backend.ts';
import { KVStore } from '../mvcc/kvstore.ts';

export class OfflineError extends Error {}

const dbDirOf = (dataDir: string) => join(dataDir, 'member', 'db');

/** PIDs of other processes that have the LMDB file open (each holds a reader slot). */
async function otherProcesses(file: string): Promise<number[]> {
  const env = open({ path: file, readOnly: true, maxDbs: 16 });
  try {
    env.readerCheck();
    const pids = new Set<number>();
    for (const line of env.readerList().split('\n')) {
      const m = /^\s*(\d+)\s/.exec(line);
      if (m && Number(m[1]) !== process.pid) pids.add(Number(m[1]));
    }
    return [...pids];
  } finally {
    await env.close();
  }
}

/** Opens the backend of a stopped member's data dir, or says why not in one line. */
async function openStopped(dataDir: string, what: string): Promise<Backend> {
  const dbDir = dbDirOf(dataDir);
  const file = join(dbDir, 'data.mdb');
  if (!existsSync(file)) {
    if (existsSync(join(dataDir, 'member', 'snap', 'db'))) {
      throw new OfflineError(
        `"${dataDir}" is an etcd data directory: convert it with 'tetcdutl migrate --from-etcd-data-dir ${dataDir} --data-dir <new dir>'`,
      );
    }
    throw new OfflineError(`"${dataDir}" is not a tetcd data directory (no ${file})`);
  }
  const pids = await otherProcesses(file);
  if (pids.length > 0) {
    throw new OfflineError(
      `"${dataDir}" is in use by a running member (pid ${pids.join(', ')}): stop it first, or use etcdctl ${what} against it`,
    );
  }
  return Backend.open(dbDir);
}

export async function hashKVOffline(
  dataDir: string,
  rev: number,
): Promise<{ hash: number; hashRevision: number; compactRevision: number }> {
  const backend = await openStopped(dataDir, 'endpoint hashkv');
  try {
    const kv = await KVStore.open(backend);
    const h = await kv.hashKV(rev);
    return { hash: h.hash, hashRevision: h.hashRevision, compactRevision: h.compactRevision };
  } finally {
    await backend.close();
  }
}

export async function defragOffline(dataDir: string): Promise<DefragResult> {
  const backend = await openStopped(dataDir, 'defrag');
  try {
    return await backend.defragment();
  } finally {
    await backend.close();
  }
}
