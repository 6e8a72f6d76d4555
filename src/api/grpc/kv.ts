// etcdserverpb.KV: validate, then read locally or propose; fill the response header.
import type { EtcdServer } from '../../server/server.ts';
import { ErrRequestTooLarge } from '../../server/errors.ts';
import { checkDeleteRequest, checkPutRequest, checkRangeRequest, checkTxnRequest } from './validate.ts';
import type {
  CompactionRequest,
  DeleteRangeRequest,
  PutRequest,
  RangeRequest,
  TxnRequest,
} from '../../proto/etcdserverpb.ts';
import { decode, requestTypes } from './codec.ts';
import { unary, type ServiceImpl } from './router.ts';

export function kvService(srv: EtcdServer): ServiceImpl {
  const t = requestTypes('etcdserverpb.KV');
  const limit = (raw: Buffer) => {
    if (raw.length > srv.cfg.maxRequestBytes) throw new ErrRequestTooLarge();
  };
  const localRange = (req: RangeRequest) => {
    const resp = srv.range(req);
    srv.header(resp.header);
    return resp;
  };
  return {
    Range: unary((raw) => {
      const req = decode<RangeRequest>(t['Range']!, raw);
      checkRangeRequest(req);
      // Linearizable (the default): wait for the ReadIndex barrier, batched across requests; none is
      // needed for a serializable read or on a lone voter that leads.
      const barrier = req.serializable ? undefined : srv.linearizableBarrier();
      return barrier ? barrier.then(() => localRange(req)) : localRange(req);
    }),
    Put: unary(async (raw) => {
      const req = decode<PutRequest>(t['Put']!, raw);
      checkPutRequest(req);
      limit(raw);
      const resp = await srv.put(raw, req);
      srv.header(resp.header);
      return resp;
    }),
    DeleteRange: unary(async (raw) => {
      const req = decode<DeleteRangeRequest>(t['DeleteRange']!, raw);
      checkDeleteRequest(req);
      limit(raw);
      const resp = await srv.deleteRange(raw, req);
      srv.header(resp.header);
      return resp;
    }),
    Txn: unary(async (raw) => {
      const req = decode<TxnRequest>(t['Txn']!, raw);
      checkTxnRequest(req, srv.cfg.maxTxnOps);
      limit(raw);
      const resp = await srv.txn(raw, req);
      srv.header(resp.header);
      return resp;
    }),
    Compact: unary(async (raw) => {
      const req = decode<CompactionRequest>(t['Compact']!, raw);
      const resp = await srv.compact(raw, req);
      srv.header(resp.header);
      return resp;
    }),
  };
}
