// /health's check as etcd 3.4 makes it (etcdhttp checkHealth): no alarm other than the ones excluded
// with ?exclude=, a leader, and a read through raft answered within a second (etcd proposes a v2 QGET;
// tetcd makes a linearizable Range, the same ReadIndex round trip to a quorum).
import type { HealthCheck } from '../http/http.ts';
import { ALARM_TYPE_NAMES, type ClientApi } from '../../server/api.ts';
import type { RangeRequest } from '../../proto/etcdserverpb.ts';

const HEALTH_READ_TIMEOUT_MS = 1000;

export function healthCheck(srv: ClientApi): HealthCheck {
  return async (excluded) => {
    const alarms = srv.maintenance.status().alarms;
    if (alarms.some((a) => !excluded.has(ALARM_TYPE_NAMES[a.alarm] ?? String(a.alarm)))) return false;
    if (srv.gate.noLeader) return false;
    const req: RangeRequest = {
      key: Buffer.from('health'),
      rangeEnd: Buffer.alloc(0),
      limit: 0,
      revision: 0,
      sortOrder: 0,
      sortTarget: 0,
      serializable: false,
      keysOnly: false,
      countOnly: true,
      minModRevision: 0,
      maxModRevision: 0,
      minCreateRevision: 0,
      maxCreateRevision: 0,
    };
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), HEALTH_READ_TIMEOUT_MS);
    });
    try {
      return await Promise.race([Promise.resolve(srv.kv.range(req)).then(() => true), late]);
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
    }
  };
}
