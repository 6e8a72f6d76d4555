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
import { decode, serviceDefinition } from './codec.ts';
import { unary } from './handler.ts';

export function kvService(
  srv: EtcdServer,
  log: Logger,
): [grpc.ServiceDefinition, grpc.UntypedServiceImplementation] {
  const { definition, methods } = serviceDefinition('etcdserverpb.KV');
  const t = (m: string) => methods[m]!.requestType;
  const limit = (raw: Buffer) => {
    if (raw.length > srv.cfg.maxRequestBytes) throw new ErrRequestTooLarge();
  };
  const localRange = (req: RangeRequest) => {
    const resp = srv.range(req);
    srv.header(resp.header);
    return resp;
  };
  const impl = {
    Range: unary(log, 'Range', (raw) => {
      const req = decode<RangeRequest>(t('Range'), raw);
      checkRangeRequest(req);
      // Linearizable (the default): wait for the ReadIndex barrier, batched across requests; none is
      // needed for a serializable read or on a lone voter that leads.
      const barrier = req.serializable ? undefined : srv.linearizableBarrier();
      return barrier ? barrier.then(() => localRange(req)) : localRange(req);
    }),
    Put: unary(log, 'Put', async (raw) => {
      const req = decode<PutRequest>(t('Put'), raw);
      checkPutRequest(req);
      limit(raw);
      const resp = await srv.put(raw, req);
      srv.header(resp.header);
      return resp;
    }),
    DeleteRange: unary(log, 'DeleteRange', async (raw) => {
      const req = decode<DeleteRangeRequest>(t('DeleteRange'), raw);
      checkDeleteRequest(req);
      limit(raw);
      const resp = await srv.deleteRange(raw, req);
      srv.header(resp.header);
      return resp;
    }),
    Txn: unary(log, 'Txn', async (raw) => {
      const req = decode<TxnRequest>(t('Txn'), raw);
      checkTxnRequest(req, srv.cfg.maxTxnOps);
      limit(raw);
      const resp = await srv.txn(raw, req);
      srv.header(resp.header);
      return resp;
    }),
    Compact: unary(log, 'Compact', async (raw) => {
      const req = decode<CompactionRequest>(t('Compact'), raw);
      const resp = await srv.compact(raw, req);
      srv.header(resp.header);
      return resp;
    }),
  };
  return [definition, impl];
}
