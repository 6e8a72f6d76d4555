// A small typed etcd v3 client on grpc-js, for tests and tools: requests are plain objects in the
// proto's camelCase field names, responses decoded messages (int64 as Long; use toNumber/toBigInt).
import * as grpc from '@grpc/grpc-js';
import { messageType, serviceType } from '../../src/proto/index.ts';

export class GrpcError extends Error {
  constructor(
    readonly code: grpc.status,
    readonly details: string,
  ) {
    super(details);
    this.name = 'GrpcError';
  }
}

type Any = Record<string, any>;

export class Client {
  private readonly stubs = new Map<string, grpc.Client>();
  private readonly channel: grpc.Channel;

  constructor(readonly endpoint: string) {
    this.channel = new grpc.Channel(endpoint.replace(/^https?:\/\//, ''), grpc.credentials.createInsecure(), {
      'grpc.max_receive_message_length': -1,
      'grpc.max_send_message_length': -1,
    });
  }

  private stub(service: string): grpc.Client {
    let s = this.stubs.get(service);
    if (!s) {
      s = new grpc.Client('unused', grpc.credentials.createInsecure(), { channelOverride: this.channel });
      this.stubs.set(service, s);
    }
    return s;
  }

  /** Calls `/<service>/<method>` with `req` (a plain object or raw bytes). */
  call(service: string, method: string, req: Any | Buffer, timeoutMs = 10_000): Promise<Any> {
    const m = serviceType(service).methods[method];
    if (!m) throw new Error(`no method ${service}/${method}`);
    const reqType = messageType(m.resolvedRequestType!.fullName.slice(1));
    const respType = messageType(m.resolvedResponseType!.fullName.slice(1));
    const encode = (v: Any | Buffer) =>
      Buffer.isBuffer(v) ? v : Buffer.from(reqType.encode(reqType.fromObject(v)).finish());
    return new Promise((resolve, reject) => {
      this.stub(service).makeUnaryRequest(
        `/${service}/${method}`,
        encode,
        (b: Buffer) => respType.decode(b) as unknown as Any,
        req,
        { deadline: Date.now() + timeoutMs },
        (err, value) => {
          if (err) reject(new GrpcError(err.code, err.details));
          else resolve(value!);
        },
      );
    });
  }

  put(key: string | Buffer, value: string | Buffer, extra: Any = {}): Promise<Any> {
    return this.call('etcdserverpb.KV', 'Put', {
      key: Buffer.from(key),
      value: Buffer.from(value),
      ...extra,
    });
  }

  range(key: string | Buffer, extra: Any = {}): Promise<Any> {
    return this.call('etcdserverpb.KV', 'Range', { key: Buffer.from(key), ...extra });
  }

  deleteRange(key: string | Buffer, extra: Any = {}): Promise<Any> {
    return this.call('etcdserverpb.KV', 'DeleteRange', { key: Buffer.from(key), ...extra });
  }

  txn(req: Any): Promise<Any> {
    return this.call('etcdserverpb.KV', 'Txn', req);
  }

  compact(revision: number, physical = false): Promise<Any> {
    return this.call('etcdserverpb.KV', 'Compact', { revision, physical });
  }

  status(): Promise<Any> {
    return this.call('etcdserverpb.Maintenance', 'Status', {});
  }

  close(): void {
    for (const s of this.stubs.values()) s.close();
    this.channel.close();
  }
}
