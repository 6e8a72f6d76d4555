// Maintenance.Snapshot's member side: the applied state committed, then pinned in one LMDB read
// transaction that the whole export reads (writes go on meanwhile), as etcd's backend.Snapshot().
import type { Backend } from '../backend/backend.ts';
import { etcdSnapshotOf } from '../snap/etcd_snapshot.ts';
import type { SnapshotExport } from './api.ts';

export async function exportEtcdSnapshot(backend: Backend): Promise<SnapshotExport> {
  await backend.commit();
  const view = backend.readView();
  try {
    const snap = await etcdSnapshotOf(view);
    return { size: snap.size, chunks: snap.chunks, close: () => view.done() };
  } catch (err) {
    view.done();
    throw err;
  }
}
