// Maintenance.Snapshot's member side, as etcd's backend.Snapshot(): the applied state committed, then
// exported by a child process (snap/export_child.ts) that opens the database file read-only in one
// LMDB read transaction while this member goes on writing, and streams the bbolt file back through a
// pipe. Walking a 1 GiB backend maps its pages into the process that walks it: in the child, the
// member's resident size stays where it was.
import { spawn } from 'node:child_process';
import type { Backend } from '../backend/backend.ts';
import { SNAPSHOT_CHUNK } from '../snap/etcd_snapshot.ts';
import type { SnapshotExport } from './api.ts';
import { ClientError } from '../pkg/errors.ts';

const CHILD = new URL('../snap/export_child.ts', import.meta.url).pathname;
const TSX = new URL('../../node_modules/tsx/dist/loader.mjs', import.meta.url).href;

/** The export could not be made (the child failed): one request's error, not the member's. */
export class SnapshotExportError extends ClientError {}

export async function exportEtcdSnapshot(backend: Backend): Promise<SnapshotExport> {
  await backend.commit();
  const child = spawn(process.execPath, ['--import', TSX, CHILD, backend.path], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const failed = async () => {
    const code = await exited;
    return new SnapshotExportError(`snapshot export failed (exit ${code}): ${stderr.trim() || 'no output'}`);
  };
  const it = child.stdout[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  // The pipe's pieces, re-cut into etcd's 32 KiB chunks; the first 8 bytes are the file's size.
  let pending: Buffer = Buffer.alloc(0);
  let done = false;
  const fill = async (want: number): Promise<boolean> => {
    while (pending.length < want && !done) {
      const r = await it.next();
      if (r.done) done = true;
      else pending = pending.length === 0 ? r.value : Buffer.concat([pending, r.value]);
    }
    return pending.length >= want;
  };
  try {
    if (!(await fill(8))) throw await failed();
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  const size = pending.readUInt32BE(0) * 0x1_0000_0000 + pending.readUInt32BE(4);
  pending = pending.subarray(8);
  let sent = 0;
  const chunks: AsyncIterator<Buffer> = {
    async next() {
      if (sent >= size) return { done: true, value: undefined };
      const want = Math.min(SNAPSHOT_CHUNK, size - sent);
      if (!(await fill(want))) throw await failed();
      const out = Buffer.from(pending.subarray(0, want));
      pending = pending.subarray(want);
      sent += want;
      return { done: false, value: out };
    },
  };
  return { size, chunks, close: () => void child.kill('SIGKILL') };
}
