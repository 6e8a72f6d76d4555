// The HTTP answers of etcd 3.4's gateway (grpc-gateway v1 behind etcd's accessController), byte for
// byte where a client could tell: statuses per gRPC code (runtime.HTTPStatusFromCode), the error body
// {"error","message","code"}, the text answers of Go's http.Error, CORS headers on every answer.
import type { ServerResponse } from 'node:http';
import { Code, type GrpcStatus } from '../grpc/status.ts';
import { goString } from './jsonpb.ts';

/**
 * grpc-gateway's HTTPStatusFromCode as a live etcd 3.4.23 answers: FailedPrecondition is 412, as
 * grpc-gateway v1.9.0 maps it (later versions answer 400).
 */
export function httpStatus(code: Code): number {
  switch (code) {
    case Code.OK:
      return 200;
    case Code.CANCELLED:
      return 408;
    case Code.INVALID_ARGUMENT:
    case Code.OUT_OF_RANGE:
      return 400;
    case Code.FAILED_PRECONDITION:
      return 412;
    case Code.DEADLINE_EXCEEDED:
      return 504;
    case Code.NOT_FOUND:
      return 404;
    case Code.ALREADY_EXISTS:
    case Code.ABORTED:
      return 409;
    case Code.PERMISSION_DENIED:
      return 403;
    case Code.UNAUTHENTICATED:
      return 401;
    case Code.RESOURCE_EXHAUSTED:
      return 429;
    case Code.UNIMPLEMENTED:
      return 501;
    case Code.UNAVAILABLE:
      return 503;
    default:
      return 500;
  }
}

const STATUS_TEXT: Record<number, string> = {
  200: 'OK',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  408: 'Request Timeout',
  409: 'Conflict',
  412: 'Precondition Failed',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/** Added by etcd's accessController to every answer when any origin is allowed (the default). */
export function cors(res: ServerResponse): void {
  res.setHeader('Access-Control-Allow-Headers', 'accept, content-type, authorization');
  res.setHeader('Access-Control-Allow-Methods', 'POST, GET, OPTIONS, PUT, DELETE');
  res.setHeader('Access-Control-Allow-Origin', '*');
}

/** Go's http.Error. */
export function plainError(res: ServerResponse, status: number, text: string): void {
  const body = text + '\n';
  res.writeHead(status, {
    'Content-Type': 'text/plain; charset=utf-8',
    'X-Content-Type-Options': 'nosniff',
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
}

/** runtime.errorBody as jsonpb writes it (empty fields left out). */
export function errorBody(st: GrpcStatus): string {
  const parts: string[] = [];
  if (st.details !== '') parts.push(`"error":${goString(st.details)}`, `"message":${goString(st.details)}`);
  if (st.code !== Code.OK) parts.push(`"code":${st.code}`);
  return `{${parts.join(',')}}`;
}

/**
 * An error answered before any call ran (a body the gateway cannot decode): a plain JSON answer.
 * `close` ends the connection after it (the rest of the body is not read).
 */
export function gatewayError(res: ServerResponse, st: GrpcStatus, close = false): void {
  if (res.headersSent || res.destroyed) return;
  const body = errorBody(st);
  const headers: Record<string, string | number> = {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(body),
  };
  if (close) headers['Connection'] = 'close';
  res.writeHead(httpStatus(st.code), headers);
  res.end(body);
}

/**
 * A call's failure: the status came from the gRPC side, so its trailer metadata comes along (the
 * content-type of the gRPC answer, as grpc-gateway copies it: a declared Trailer, chunked body).
 */
export function callError(res: ServerResponse, st: GrpcStatus): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(httpStatus(st.code), {
    'Content-Type': 'application/json',
    Trailer: 'Grpc-Trailer-Content-Type',
    'Transfer-Encoding': 'chunked',
  });
  res.write(errorBody(st));
  res.addTrailers({ 'Grpc-Trailer-Content-Type': 'application/grpc' });
  res.end();
}

/** A unary call's answer. */
export function callReply(res: ServerResponse, json: string): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(200, {
    'Content-Type': 'application/json',
    'Grpc-Metadata-Content-Type': 'application/grpc',
    'Content-Length': Buffer.byteLength(json),
  });
  res.end(json);
}

/**
 * The head of a streamed answer, written with its first result. A stream that ends without any had
 * no gRPC headers to copy (a trailers-only answer): no Grpc-Metadata-Content-Type then.
 */
export function streamHead(res: ServerResponse, empty = false): void {
  const headers: Record<string, string> = { 'Content-Type': 'application/json' };
  if (!empty) headers['Grpc-Metadata-Content-Type'] = 'application/grpc';
  headers['Transfer-Encoding'] = 'chunked';
  res.writeHead(200, headers);
}

/**
 * A stream that failed before its first result: grpc-gateway had started forwarding it (a
 * trailers-only gRPC answer gives no header error), so the error is its one chunk, under the
 * status of its code.
 */
export function streamFailure(res: ServerResponse, st: GrpcStatus): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(httpStatus(st.code), { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
  res.end(streamErrorChunk(st));
}

/** The last chunk of a failed stream (runtime.StreamError). */
export function streamErrorChunk(st: GrpcStatus): string {
  const http = httpStatus(st.code);
  const parts: string[] = [];
  if (st.code !== Code.OK) parts.push(`"grpc_code":${st.code}`);
  parts.push(`"http_code":${http}`);
  if (st.details !== '') parts.push(`"message":${goString(st.details)}`);
  parts.push(`"http_status":${goString(STATUS_TEXT[http] ?? '')}`);
  return `{"error":{${parts.join(',')}}}`;
}
