// Lease helpers for process tests: one LeaseKeepAlive stream per endpoint, and a watcher that resolves
// with the time a key's DELETE reaches it.
import { messageType, toNumber } from '../../src/proto/index.ts';
import { WatchStreamClient, watchChannel, type StreamWatch } from './watch_stream.ts';

type Any = Record<string, any>;
const KeepAliveReq = messageType('etcdserverpb.LeaseKeepAliveRequest');
const KeepAliveResp = messageType('etcdserverpb.LeaseKeepAliveResponse');

export interface KeepAliveStream {
  /** Sends one keep-alive; resolves with the answered TTL, rejects after `timeoutMs`. */
  once(id: Any, timeoutMs?: number): Promise<number>;
  close(): void;
}

export function keepAliveStream(endpoint: string): KeepAliveStream {
  const ch = watchChannel(endpoint);
  const call = ch.makeBidiStreamRequest(
    '/etcdserverpb.Lease/LeaseKeepAlive',
    (v: Any) => Buffer.from(KeepAliveReq.encode(KeepAliveReq.fromObject(v)).finish()),
    (b: Buffer) => KeepAliveResp.decode(b) as unknown as Any,
  );
  const waiting: ((ttl: number) => void)[] = [];
  call.on('data', (r: Any) => waiting.shift()?.(toNumber(r['TTL'])));
  // The stream dies with its member; pending once() calls time out.
  call.on('error', () => {});
  return {
    once: (id, timeoutMs = 3000) =>
      new Promise<number>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no keep-alive answer in ${timeoutMs} ms`)), timeoutMs);
        waiting.push((ttl) => {
          clearTimeout(t);
          resolve(ttl);
        });
        call.write({ ID: id });
      }),
    close() {
      call.cancel();
      ch.close();
    },
  };
}

export interface DeleteWatch {
  /** performance.now() when the first DELETE arrived. */
  at: Promise<number>;
  watch: StreamWatch;
  close(): void;
}

/** Watches `key` (deletes only) on `endpoint`; `at` resolves on the first DELETE, rejects after `timeoutMs`. */
export async function deletionOf(endpoint: string, key: string, timeoutMs: number): Promise<DeleteWatch> {
  const ch = watchChannel(endpoint);
  const s = new WatchStreamClient(ch);
  const w = await s.create({ key, noPut: true });
  let timer: NodeJS.Timeout | undefined;
  const at = new Promise<number>((resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`no DELETE of ${key} in ${timeoutMs} ms`)), timeoutMs);
    w.onEvents = () => {
      clearTimeout(timer);
      resolve(performance.now());
    };
  });
  at.catch(() => {});
  return {
    at,
    watch: w,
    close() {
      clearTimeout(timer);
      s.close();
      ch.close();
    },
  };
}
