// The HTTP/2 side of a client port. Node's http2 module costs, per stream, a Duplex, header objects
// and a round of callbacks through nghttp2; for a small unary call that was most of the server's CPU.
// Here the frames are read and written directly: every stream is handed to the route function (the
// gRPC router, api/grpc/router.ts) as a LocalCall, and answered from pre-encoded header blocks,
// several answers to one socket write. `:authority` is not looked at, so the URL that etcdctl 3.4
// sends there does no harm.
//
// The parts, by concern:
//   frames.ts        frame numbers and layout, the FrameWriter
//   hpack.ts         header compression (RFC 7541), with the header list size limit
//   header_block.ts  HEADERS + CONTINUATION assembly, bounded
//   stream.ts        a stream: what a call sees of it, and its state
//   flow_control.ts  windows both ways, the answers they pace, the socket's backpressure
//   connection.ts    one connection: frame dispatch, streams, SETTINGS, PING, GOAWAY, its limits
//   keepalive.ts     preface and idle timeouts, server pings, the client ping policy (grpc-go's)
//   limits.ts        every size and limit, with etcd's defaults where etcd has the setting
import type { Socket } from 'node:net';
import { H2Connection, type Route } from './connection.ts';
import type { H2LimitOptions, H2Limits } from './limits.ts';
import type { ConnInfo } from './stream.ts';

export { H2Connection, type Route } from './connection.ts';
export { CLOSE_LINGER_MS } from './transport.ts';
export { CLOSED_KEPT } from './stream.ts';
export type { ConnInfo, LocalCall, RequestHead, StreamSink } from './stream.ts';
export * from './limits.ts';
export {
  PREFACE,
  H2_CANCEL,
  H2_COMPRESSION_ERROR,
  H2_ENHANCE_YOUR_CALM,
  H2_FLOW_CONTROL_ERROR,
  H2_FRAME_SIZE_ERROR,
  H2_INTERNAL_ERROR,
  H2_NO_ERROR,
  H2_PROTOCOL_ERROR,
  H2_REFUSED_STREAM,
  H2_STREAM_CLOSED,
} from './frames.ts';

export interface H2FrontOptions {
  /** The call that serves this request; it may answer at once through `sink`. */
  route: Route;
  /** Limits other than the defaults (limits.ts DEFAULT_LIMITS). */
  limits?: H2LimitOptions;
}

/**
 * Serves one client connection whose first bytes (`head`, the preface included) were already read;
 * `ended` runs once the connection is over for its client (its socket may still linger); `info` is
 * what every call on it learns of the connection (its RequestHead's `conn`).
 */
export function serveH2(
  socket: Socket,
  head: Buffer,
  route: Route,
  limits: H2Limits,
  ended?: () => void,
  info?: ConnInfo,
): H2Connection {
  return new H2Connection(socket, head, route, limits, ended, info);
}
