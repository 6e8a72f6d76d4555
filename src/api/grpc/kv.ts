// etcdserverpb.KV: decode, check (etcd's v3rpc checks), then the member's RaftKV, which decides between
// a local read, a ReadIndex barrier and a proposal, and answers with the header filled. While auth is
// enabled (or a token is sent anyway, which etcd checks too) the caller is looked up after the checks
// (where etcd's server does) and passed along; otherwise nothing of auth is looked at but one boolean
// and the metadata.
import type { ApiLimits, Auth, RaftKV } from '../../server/api.ts';
import { hasToken, withCaller } from './auth.ts';
import { ErrRequestTooLarge } from '../../server/errors.ts';
import { checkDeleteRequest, checkPutRequest, checkRangeRequest, checkTxnRequest } from './validate.ts';
import type {
  CompactionRequest,
  DeleteRangeRequest,
  PutRequest,
  RangeRequest,
  RangeResponse,
  TxnRequest,
} from '../../proto/etcdserverpb.ts';
import { decode, requestTypes } from './codec.ts';
import { encodeRangeResponse, type RangeResponseOut } from '../../proto/range_codec.ts';
import { unary, type ServiceImpl } from './router.ts';

const encodeRange = (r: RangeResponse): Buffer => encodeRangeResponse(r as unknown as RangeResponseOut);

export function kvService(kv: RaftKV, limits: ApiLimits, auth: Auth): ServiceImpl {
  const t = requestTypes('etcdserverpb.KV');
  const limit = (raw: Buffer) => {
    if (raw.length > limits.maxRequestBytes) throw new ErrRequestTooLarge();
  };
  return {
    // Encoded here by hand (proto/range_codec.ts: the same bytes protobufjs writes, a large range
    // many times faster).
    Range: unary((raw, ctx) => {
      const req = decode<RangeRequest>(t['Range']!, raw);
      checkRangeRequest(req);
      const resp =
        !auth.enabled && !hasToken(ctx) ? kv.range(req) : withCaller(auth, ctx, (ai) => kv.range(req, ai));
      return resp instanceof Promise ? resp.then(encodeRange) : encodeRange(resp);
    }),
    Put: unary((raw, ctx) => {
      const req = decode<PutRequest>(t['Put']!, raw);
      checkPutRequest(req);
      limit(raw);
      if (!auth.enabled && !hasToken(ctx)) return kv.put(raw, req);
      return withCaller(auth, ctx, (ai) => kv.put(raw, req, ai));
    }),
    DeleteRange: unary((raw, ctx) => {
      const req = decode<DeleteRangeRequest>(t['DeleteRange']!, raw);
      checkDeleteRequest(req);
      limit(raw);
      if (!auth.enabled && !hasToken(ctx)) return kv.deleteRange(raw, req);
      return withCaller(auth, ctx, (ai) => kv.deleteRange(raw, req, ai));
    }),
    Txn: unary((raw, ctx) => {
      const req = decode<TxnRequest>(t['Txn']!, raw);
      checkTxnRequest(req, limits.maxTxnOps);
      limit(raw);
      if (!auth.enabled && !hasToken(ctx)) return kv.txn(raw, req);
      return withCaller(auth, ctx, (ai) => kv.txn(raw, req, ai));
    }),
    Compact: unary((raw, ctx) => {
      const req = decode<CompactionRequest>(t['Compact']!, raw);
      return withCaller(auth, ctx, (ai) => kv.compact(raw, req, ai));
    }),
  };
}
