// etcdserverpb.KV: validate, then read locally or propose; fill the response header.
import type * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { EtcdServer } from '../../server/server.ts';
import { ErrRequestTooLarge } from '../../server/errors.ts';
import {
  checkDeleteRequest,
  checkPutRequest,
  checkRangeRequest,
  checkTxnRequest,
} from '../../server/txn/validate.ts';
import type {
  CompactionRequest,
  DeleteRangeRequest,
  PutRequest,
  RangeRequest,
  TxnRequest,
} from '../../server/txn/types.ts';
import { decode, serviceDefinition, type MethodInfo } from './codec.ts';
import { unary } from './handler.ts';

/** The KV methods by name: raw request in, response object out. Served by grpc-js and the fast path. */
export type KvHandlers = Record<'Range' | 'Put' | 'DeleteRange' | 'Txn' | 'Compact', Handler>;
type Handler = (raw: Buffer) => object | Promise<object>;

export function kvHandlers(srv: EtcdServer): { handlers: KvHandlers; methods: Record<string, MethodInfo> } {
  const { methods } = serviceDefinition('etcdserverpb.KV');
  const t = (m: string) => methods[m]!.requestType;
  const limit = (raw: Buffer) => {
    if (raw.length > srv.cfg.maxRequestBytes) throw new ErrRequestTooLarge();
  };
  const localRange = (req: RangeRequest) => {
    const resp = srv.range(req);
    srv.header(resp.header);
    return resp;
  };
  const handlers: KvHandlers = {
    Range: (raw) => {
      const req = decode<RangeRequest>(t('Range'), raw);
      checkRangeRequest(req);
      // Linearizable (the default): wait for the ReadIndex barrier, batched across requests; none is
      // needed for a serializable read or on a lone voter that leads.
      const barrier = req.serializable ? undefined : srv.linearizableBarrier();
      return barrier ? barrier.then(() => localRange(req)) : localRange(req);
    },
    Put: async (raw) => {
      const req = decode<PutRequest>(t('Put'), raw);
      checkPutRequest(req);
      limit(raw);
      const resp = await srv.put(raw, req);
      srv.header(resp.header);
      return resp;
    },
    DeleteRange: async (raw) => {
      const req = decode<DeleteRangeRequest>(t('DeleteRange'), raw);
      checkDeleteRequest(req);
      limit(raw);
      const resp = await srv.deleteRange(raw, req);
      srv.header(resp.header);
      return resp;
    },
    Txn: async (raw) => {
      const req = decode<TxnRequest>(t('Txn'), raw);
      checkTxnRequest(req, srv.cfg.maxTxnOps);
      limit(raw);
      const resp = await srv.txn(raw, req);
      srv.header(resp.header);
      return resp;
    },
    Compact: async (raw) => {
      const req = decode<CompactionRequest>(t('Compact'), raw);
      const resp = await srv.compact(raw, req);
      srv.header(resp.header);
      return resp;
    },
  };
  return { handlers, methods };
}

export function kvService(
  srv: EtcdServer,
  log: Logger,
): [grpc.ServiceDefinition, grpc.UntypedServiceImplementation] {
  const { definition } = serviceDefinition('etcdserverpb.KV');
  const { handlers } = kvHandlers(srv);
  const impl: grpc.UntypedServiceImplementation = {};
  for (const [name, fn] of Object.entries(handlers)) impl[name] = unary(log, name, fn);
  return [definition, impl];
}
