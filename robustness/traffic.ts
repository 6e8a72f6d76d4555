// The traffic of a run (etcd's KV-heavy profile, one key per request): each client sends requests one
// after another to its own member (no failover, so a cut-off member keeps being asked), chosen by the
// run's PRNG: put, linearizable get, delete (with prev_kv), and txn with one compare on the key's value
// or mod revision (then put, else get). Values are unique. Every request is recorded with its call and
// return times; a failed one is kept as "may or may not have happened". One watcher per member watches
// the whole prefix from revision 1 and resumes after the last revision it saw when its stream breaks.
import * as grpc from '@grpc/grpc-js';
import { messageType, toNumber } from '../src/proto/index.ts';
import { Client, GrpcError } from '../test/helpers/client.ts';
import type { KvSeen, Operation, Request, Response, WatchEvent, WatcherLog } from './history.ts';
import type { Rng } from './rand.ts';

export const PREFIX = '/robustness/';
const KEYS = 6;
const REQUEST_MS = 2000;

type Any = Record<string, any>;

const kvOf = (kvs: Any[] | undefined): KvSeen | null => {
  const kv = kvs?.[0];
  return kv
    ? { value: Buffer.from(kv['value'] ?? []).toString(), modRev: toNumber(kv['modRevision']) }
    : null;
};

export class Recorder {
  readonly ops: Operation[] = [];
  private readonly t0 = performance.now();
  now(): number {
    return performance.now() - this.t0;
  }
}

/** One KV client bound to one member; runs until stop() and records into the recorder. */
export class KvClient {
  private stopped = false;
  private seq = 0;
  private readonly seen = new Map<string, KvSeen | null>();
  private readonly client: Client;
  done: Promise<void> = Promise.resolve();

  constructor(
    readonly id: number,
    endpoint: string,
    private readonly rng: Rng,
    private readonly rec: Recorder,
    private readonly tag: string,
    /** Sends gets as serializable (local, possibly stale) reads: the client-side sabotage. */
    private readonly serializable = false,
    private readonly prefix = PREFIX,
  ) {
    this.client = new Client(endpoint);
  }

  start(): void {
    this.done = this.loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
    this.client.close();
  }

  private next(): Request {
    const key = `${this.prefix}k${this.rng.int(KEYS)}`;
    const value = `${this.tag}c${this.id}-${++this.seq}`;
    const p = this.rng.next();
    if (p < 0.35) return { kind: 'put', key, value };
    if (p < 0.7) return { kind: 'get', key };
    if (p < 0.8) return { kind: 'delete', key };
    const last = this.seen.get(key);
    if (this.rng.next() < 0.5 && last)
      return { kind: 'txn', key, cmp: { target: 'value', value: last.value }, value };
    return { kind: 'txn', key, cmp: { target: 'mod', rev: last ? last.modRev : 0 }, value };
  }

  private async send(q: Request): Promise<Response> {
    const c = this.client;
    const K = (s: string) => Buffer.from(s);
    switch (q.kind) {
      case 'put': {
        const r = await c.call('etcdserverpb.KV', 'Put', { key: K(q.key), value: K(q.value) }, REQUEST_MS);
        return { kind: 'put', rev: toNumber(r['header']?.revision) };
      }
      case 'get': {
        const r = await c.call(
          'etcdserverpb.KV',
          'Range',
          { key: K(q.key), serializable: this.serializable },
          REQUEST_MS,
        );
        return { kind: 'get', kv: kvOf(r['kvs']), rev: toNumber(r['header']?.revision) };
      }
      case 'delete': {
        const r = await c.call('etcdserverpb.KV', 'DeleteRange', { key: K(q.key) }, REQUEST_MS);
        return { kind: 'delete', deleted: toNumber(r['deleted']), rev: toNumber(r['header']?.revision) };
      }
      case 'txn': {
        const compare =
          q.cmp.target === 'value'
            ? { key: K(q.key), target: 3, result: 0, value: K(q.cmp.value) }
            : { key: K(q.key), target: 2, result: 0, modRevision: q.cmp.rev };
        const r = await c.call(
          'etcdserverpb.KV',
          'Txn',
          {
            compare: [compare],
            success: [{ requestPut: { key: K(q.key), value: K(q.value) } }],
            failure: [{ requestRange: { key: K(q.key) } }],
          },
          REQUEST_MS,
        );
        const succeeded = Boolean(r['succeeded']);
        const kv = succeeded ? null : kvOf(r['responses']?.[0]?.responseRange?.kvs);
        return { kind: 'txn', succeeded, rev: toNumber(r['header']?.revision), kv };
      }
    }
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      const req = this.next();
      const op: Operation = {
        id: this.rec.ops.length,
        client: this.id,
        req,
        call: this.rec.now(),
        ret: Infinity,
      };
      this.rec.ops.push(op);
      try {
        const resp = await this.send(req);
        op.ret = this.rec.now();
        op.resp = resp;
        if (resp.kind === 'get' || (resp.kind === 'txn' && !resp.succeeded)) this.seen.set(req.key, resp.kv);
        if (resp.kind === 'put' || (resp.kind === 'txn' && resp.succeeded))
          this.seen.set(req.key, { value: (req as { value: string }).value, modRev: resp.rev });
        if (resp.kind === 'delete') this.seen.set(req.key, null);
      } catch (e) {
        op.error = e instanceof GrpcError ? `${grpc.status[e.code]}: ${e.details}` : (e as Error).message;
        // Back off a little: a member that is down answers at once, and each failure widens the search.
        await new Promise((r) => setTimeout(r, 50 + this.rng.int(100)));
      }
    }
  }
}

const WatchRequest = messageType('etcdserverpb.WatchRequest');
const WatchResponse = messageType('etcdserverpb.WatchResponse');

/** Watches the prefix on one member from `startRev`, resuming after the last event when the stream breaks. */
export class Watcher {
  readonly events: WatchEvent[] = [];
  private stopped = false;
  private channel: grpc.Client | undefined;
  private call: grpc.ClientDuplexStream<Any, Any> | undefined;
  private timer: NodeJS.Timeout | undefined;
  resumes = 0;

  constructor(
    readonly name: string,
    private readonly endpoint: string,
    /** The first revision to watch from. */
    readonly startRev = 1,
    private readonly prefix = PREFIX,
    /** Asks for prev_kv with every event. */
    private readonly prevKv = false,
  ) {}

  get lastRev(): number {
    return this.events.at(-1)?.rev ?? this.startRev - 1;
  }

  start(): void {
    if (this.stopped) return;
    this.channel?.close();
    this.channel = new grpc.Client(this.endpoint, grpc.credentials.createInsecure(), {
      'grpc.use_local_subchannel_pool': 1,
      'grpc.max_receive_message_length': -1,
    });
    const call = this.channel.makeBidiStreamRequest(
      '/etcdserverpb.Watch/Watch',
      (v: Any) => Buffer.from(WatchRequest.encode(WatchRequest.fromObject(v)).finish()),
      (b: Buffer) => WatchResponse.decode(b) as unknown as Any,
    );
    this.call = call;
    call.on('data', (r: Any) => {
      for (const e of (r['events'] ?? []) as Any[]) {
        const kv = e['kv'] as Any;
        const ev: WatchEvent = {
          rev: toNumber(kv['modRevision']),
          type: e['type'] === 1 ? 'DELETE' : 'PUT',
          key: Buffer.from(kv['key']).toString(),
          value: Buffer.from(kv['value'] ?? []).toString(),
        };
        if (this.prevKv) ev.prev = kvOf(e['prevKv'] ? [e['prevKv']] : []);
        this.events.push(ev);
      }
      if (r['canceled']) this.retry(call);
    });
    call.on('error', () => this.retry(call));
    call.on('end', () => this.retry(call));
    const end = Buffer.from(this.prefix);
    end[end.length - 1]!++;
    call.write({
      createRequest: {
        key: Buffer.from(this.prefix),
        rangeEnd: end,
        startRevision: this.lastRev + 1,
        prevKv: this.prevKv,
      },
    });
  }

  private retry(call: grpc.ClientDuplexStream<Any, Any>): void {
    if (call !== this.call || this.stopped) return;
    this.call = undefined;
    call.cancel();
    this.resumes++;
    this.timer = setTimeout(() => this.start(), 200);
  }

  log(upTo: number): WatcherLog {
    return { name: this.name, startRev: this.startRev, upTo, events: this.events.slice() };
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.call?.cancel();
    this.channel?.close();
  }
}
