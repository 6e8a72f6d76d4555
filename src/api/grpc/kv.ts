// etcdserverpb.KV: decode, check (etcd's v3rpc checks), then the member's RaftKV, which decides between
// a local read, a ReadIndex barrier and a proposal, and answers with the header filled.
import type { ApiLimits, RaftKV } from '../../server/api.ts';
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

export function kvService(kv: RaftKV, limits: ApiLimits): ServiceImpl {
  const t = requestTypes('etcdserverpb.KV');
  const limit = (raw: Buffer) => {
    if (raw.length > limits.maxRequestBytes) throw new ErrRequestTooLarge();
  };
  return {
    Range: unary((raw) => {
      const req = decode<RangeRequest>(t['Range']!, raw);
      checkRangeRequest(req);
      return kv.range(req);
    }),
    Put: unary((raw) => {
      const req = decode<PutRequest>(t['Put']!, raw);
      checkPutRequest(req);
      limit(raw);
      return kv.put(raw, req);
    }),
    DeleteRange: unary((raw) => {
      const req = decode<DeleteRangeRequest>(t['DeleteRange']!, raw);
      checkDeleteRequest(req);
      limit(raw);
      return kv.deleteRange(raw, req);
    }),
    Txn: unary((raw) => {
      const req = decode<TxnRequest>(t['Txn']!, raw);
      checkTxnRequest(req, limits.maxTxnOps);
      limit(raw);
      return kv.txn(raw, req);
    }),
    Compact: unary((raw) => {
      const req = decode<CompactionRequest>(t['Compact']!, raw);
      return kv.compact(raw, req);
    }),
  };
}
