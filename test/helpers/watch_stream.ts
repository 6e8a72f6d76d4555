// A Watch stream for tests: create/cancel/progress over one grpc-js bidirectional call, with every
// response recorded per watch ID (events flattened, each tagged with the serial of its response so a
// test can check that one revision never spans two responses).
import * as grpc from '@grpc/grpc-js';
import { messageType, toNumber } from '../../src/proto/index.ts';

const WatchRequest = messageType('etcdserverpb.WatchRequest');
const WatchResponse = messageType('etcdserverpb.WatchResponse');

type Any = Record<string, any>;

export interface SeenEvent {
  rev: number;
  type: 'PUT' | 'DELETE';
  key: string;
  value: string;
  createRev: number;
  version: number;
  /** `${value}@${modRevision}` of prev_kv, '' when absent. */
  prev: string;
  /** Global serial of the response that carried the event. */
  resp: number;
}

export interface CreateSpec {
  key: string;
  /** undefined: the key only; '\0': every key >= key; else [key, end). */
  end?: string | undefined;
  startRev?: number;
  prevKv?: boolean;
  noPut?: boolean;
  noDelete?: boolean;
}

export interface StreamWatch {
  id: number;
  /** Revision of the created response's header. */
  createdRev: number;
  events: SeenEvent[];
  canceled: boolean;
  onEvents?: () => void;
}

let respSerial = 0;

/** One channel (its own HTTP/2 connection), to open several Watch streams on. */
export function watchChannel(endpoint: string): grpc.Client {
  return new grpc.Client(endpoint, grpc.credentials.createInsecure(), {
    'grpc.use_local_subchannel_pool': 1,
    'grpc.max_receive_message_length': -1,
  });
}

export class WatchStreamClient {
  private readonly call: grpc.ClientDuplexStream<Any, Any>;
  private readonly creating: { resolve(w: StreamWatch): void; reject(e: Error): void }[] = [];
  private readonly canceling = new Map<number, () => void>();
  private readonly progressWaiters: ((rev: number) => void)[] = [];
  readonly watches = new Map<number, StreamWatch>();
  error: Error | undefined;

  constructor(ch: grpc.Client) {
    this.call = ch.makeBidiStreamRequest(
      '/etcdserverpb.Watch/Watch',
      (v: Any) => Buffer.from(WatchRequest.encode(WatchRequest.fromObject(v)).finish()),
      (b: Buffer) => WatchResponse.decode(b) as unknown as Any,
    );
    this.call.on('data', (r: Any) => this.onResponse(r));
    this.call.on('error', (e: Error) => {
      this.error ??= e;
      for (const c of this.creating.splice(0)) c.reject(e);
    });
  }

  private onResponse(r: Any): void {
    const id = toNumber(r['watchId']);
    const rev = toNumber(r['header']?.revision);
    if (r['created']) {
      const c = this.creating.shift();
      if (!c) throw new Error('created response nobody asked for');
      if (r['canceled'] || id < 0) return c.reject(new Error(`create refused: ${r['cancelReason']}`));
      const w: StreamWatch = { id, createdRev: rev, events: [], canceled: false };
      this.watches.set(id, w);
      return c.resolve(w);
    }
    if (r['canceled']) {
      const w = this.watches.get(id);
      if (w) w.canceled = true;
      this.canceling.get(id)?.();
      this.canceling.delete(id);
      return;
    }
    const evs = (r['events'] ?? []) as Any[];
    if (id === -1 && evs.length === 0) {
      this.progressWaiters.shift()?.(rev);
      return;
    }
    const w = this.watches.get(id);
    if (!w) throw new Error(`events for unknown watch ${id}`);
    const serial = ++respSerial;
    for (const e of evs) {
      const kv = e['kv'] as Any;
      const p = e['prevKv'] as Any | undefined;
      w.events.push({
        rev: toNumber(kv['modRevision']),
        type: e['type'] === 1 ? 'DELETE' : 'PUT',
        key: Buffer.from(kv['key']).toString(),
        value: Buffer.from(kv['value'] ?? []).toString(),
        createRev: toNumber(kv['createRevision']),
        version: toNumber(kv['version']),
        prev: p ? `${Buffer.from(p['value']).toString()}@${toNumber(p['modRevision'])}` : '',
        resp: serial,
      });
    }
    w.onEvents?.();
  }

  create(s: CreateSpec): Promise<StreamWatch> {
    return new Promise((resolve, reject) => {
      this.creating.push({ resolve, reject });
      const filters: number[] = [];
      if (s.noPut) filters.push(0);
      if (s.noDelete) filters.push(1);
      this.call.write({
        createRequest: {
          key: Buffer.from(s.key),
          rangeEnd: s.end === undefined ? Buffer.alloc(0) : Buffer.from(s.end),
          startRevision: s.startRev ?? 0,
          prevKv: s.prevKv ?? false,
          filters,
        },
      });
    });
  }

  /** Resolves on the canceled response; events that arrived before it stay recorded. */
  cancel(id: number): Promise<void> {
    return new Promise((resolve) => {
      this.canceling.set(id, resolve);
      this.call.write({ cancelRequest: { watchId: id } });
    });
  }

  /**
   * Sends a progress request; resolves with the header revision of the answer (watch_id -1).
   * `atAnswer` runs synchronously when the answer arrives, before any later response is recorded.
   */
  progress(atAnswer?: (rev: number) => void): Promise<number> {
    return new Promise((resolve) => {
      this.progressWaiters.push((rev) => {
        atAnswer?.(rev);
        resolve(rev);
      });
      this.call.write({ progressRequest: {} });
    });
  }

  close(): void {
    this.call.cancel();
  }
}
