// Range: read a key or a range at a revision, with limit, sort and revision filters (etcd semantics).
import { SortOrder, SortTarget, type RangeRequest, type RangeResponse } from '../../proto/etcdserverpb.ts';
import { asBuf, sat } from '../../proto/index.ts';
import { kvToMsg, rangeEndOf, type ReadView, type StoredKV } from './kv_view.ts';

type Cmp = (a: StoredKV, b: StoredKV) => number;

const byTarget: Record<number, Cmp> = {
  [SortTarget.KEY]: (a, b) => Buffer.compare(a.key, b.key),
  [SortTarget.VERSION]: (a, b) => a.version - b.version,
  [SortTarget.CREATE]: (a, b) => a.createRevision - b.createRevision,
  [SortTarget.MOD]: (a, b) => a.modRevision - b.modRevision,
  [SortTarget.VALUE]: (a, b) => Buffer.compare(a.value, b.value),
};

export function executeRange(view: ReadView, r: RangeRequest): RangeResponse {
  const reqLimit = sat(r.limit);
  const minMod = sat(r.minModRevision);
  const maxMod = sat(r.maxModRevision);
  const minCreate = sat(r.minCreateRevision);
  const maxCreate = sat(r.maxCreateRevision);
  // Sorting or filtering needs every key of the range; otherwise fetch one more than the limit to
  // learn whether there is more.
  const fetchAll = r.sortOrder !== SortOrder.NONE || minMod || maxMod || minCreate || maxCreate;
  let limit = fetchAll ? 0 : reqLimit;
  if (limit > 0) limit += 1;
  const rr = view.range(asBuf(r.key), rangeEndOf(r.rangeEnd), {
    rev: sat(r.revision),
    limit,
    countOnly: r.countOnly,
  });
  let kvs = rr.kvs;
  if (maxMod) kvs = kvs.filter((kv) => kv.modRevision <= maxMod);
  if (minMod) kvs = kvs.filter((kv) => kv.modRevision >= minMod);
  if (maxCreate) kvs = kvs.filter((kv) => kv.createRevision <= maxCreate);
  if (minCreate) kvs = kvs.filter((kv) => kv.createRevision >= minCreate);

  let order = r.sortOrder;
  // The store returns keys ascending; any other target with no order given sorts ascending.
  if (r.sortTarget !== SortTarget.KEY && order === SortOrder.NONE) order = SortOrder.ASCEND;
  if (order !== SortOrder.NONE && !(order === SortOrder.ASCEND && r.sortTarget === SortTarget.KEY)) {
    const cmp = byTarget[r.sortTarget]!;
    kvs = order === SortOrder.DESCEND ? [...kvs].sort((a, b) => cmp(b, a)) : [...kvs].sort(cmp);
  }
  let more = false;
  if (reqLimit > 0 && kvs.length > reqLimit) {
    kvs = kvs.slice(0, reqLimit);
    more = true;
  }
  return {
    header: { revision: rr.rev },
    kvs: kvs.map((kv) => kvToMsg(kv, r.keysOnly)),
    more,
    count: rr.count,
  };
}
