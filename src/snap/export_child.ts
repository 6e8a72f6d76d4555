// The snapshot export's child process (snap/etcd_snapshot_process.ts starts it): opens the member's
// database file read-only, pinned in one read transaction, and writes to stdout the bbolt file's size
// (8 bytes, big-endian) and then the file itself. Reading a 1 GiB backend maps its pages into the
// process that reads them; here that is this short-lived process, not the member.
// Usage: node --import <tsx> src/snap/export_child.ts <data.mdb>
import { once } from 'node:events';
import { Backend } from '../backend/backend.ts';
import { etcdSnapshotOf } from './etcd_snapshot.ts';

async function main(path: string): Promise<void> {
  const view = Backend.openReadOnlyView(path);
  try {
    const snap = await etcdSnapshotOf(view);
    const head = Buffer.alloc(8);
    head.writeUInt32BE(Math.floor(snap.size / 0x1_0000_0000), 0);
    head.writeUInt32BE(snap.size >>> 0, 4);
    if (!process.stdout.write(head)) await once(process.stdout, 'drain');
    for (let r = snap.chunks.next(); !r.done; r = snap.chunks.next()) {
      if (!process.stdout.write(r.value)) await once(process.stdout, 'drain');
    }
  } finally {
    await view.close();
  }
}

main(process.argv[2] ?? '').then(
  () => process.stdout.end(),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
