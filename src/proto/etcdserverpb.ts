// Shapes of the decoded etcdserverpb requests (protobufjs instances: bytes are Buffers, int64 fields
// Long or number, enums numbers) and of the plain response objects handed to the encoder.
import type { Int64, Long } from './index.ts';

export interface RangeRequest {
  key: Uint8Array;
  rangeEnd: Uint8Array;
  limit: Int64;
  revision: Int64;
  sortOrder: number;
  sortTarget: number;
  serializable: boolean;
  keysOnly: boolean;
  countOnly: boolean;
  minModRevision: Int64;
  maxModRevision: Int64;
  minCreateRevision: Int64;
  maxCreateRevision: Int64;
}

export interface PutRequest {
  key: Uint8Array;
  value: Uint8Array;
  lease: Int64;
  prevKv: boolean;
  ignoreValue: boolean;
  ignoreLease: boolean;
}

export interface DeleteRangeRequest {
  key: Uint8Array;
  rangeEnd: Uint8Array;
  prevKv: boolean;
}

export interface Compare {
  result: number;
  target: number;
  key: Uint8Array;
  rangeEnd: Uint8Array;
  targetUnion?: string;
  version?: Int64;
  createRevision?: Int64;
  modRevision?: Int64;
  value?: Uint8Array;
  lease?: Int64;
}

export interface RequestOp {
  request?: string;
  requestRange?: RangeRequest | null;
  requestPut?: PutRequest | null;
  requestDeleteRange?: DeleteRangeRequest | null;
  requestTxn?: TxnRequest | null;
}

export interface TxnRequest {
  compare: Compare[];
  success: RequestOp[];
  failure: RequestOp[];
}

export interface CompactionRequest {
  revision: Int64;
  physical: boolean;
}

export interface Header {
  clusterId?: Long;
  memberId?: Long;
  revision: number;
  raftTerm?: number;
}

/** mvccpb.KeyValue as handed to the encoder. */
export interface KeyValueMsg {
  key: Uint8Array;
  createRevision: number;
  modRevision: number;
  version: number;
  value?: Uint8Array;
  lease?: Long;
}

export interface RangeResponse {
  header: Header;
  kvs: KeyValueMsg[];
  more: boolean;
  count: number;
}

export interface PutResponse {
  header: Header;
  prevKv?: KeyValueMsg;
}

export interface DeleteRangeResponse {
  header: Header;
  deleted: number;
  prevKvs: KeyValueMsg[];
}

export type ResponseOp =
  | { responseRange: RangeResponse }
  | { responsePut: PutResponse }
  | { responseDeleteRange: DeleteRangeResponse }
  | { responseTxn: TxnResponse };

export interface TxnResponse {
  header: Header;
  succeeded: boolean;
  responses: ResponseOp[];
}

export const SortOrder = { NONE: 0, ASCEND: 1, DESCEND: 2 } as const;
export const SortTarget = { KEY: 0, VERSION: 1, CREATE: 2, MOD: 3, VALUE: 4 } as const;
export const CompareResult = { EQUAL: 0, GREATER: 1, LESS: 2, NOT_EQUAL: 3 } as const;
export const CompareTarget = { VERSION: 0, CREATE: 1, MOD: 2, VALUE: 3, LEASE: 4 } as const;
