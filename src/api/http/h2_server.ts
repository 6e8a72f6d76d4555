// The HTTP/2 side of a client port. Node's http2 module costs, per stream, a Duplex, header objects
// and a round of callbacks through nghttp2; for a small unary call that was most of the server's CPU.
// Here the frames are read and written directly: every stream is handed to the route function (the
// gRPC router, api/grpc/router.ts) as a LocalCall, and answered from pre-encoded header blocks,
// several answers to one socket write. `:authority` is not looked at, so the URL that etcdctl 3.4
// sends there does no harm.
//
// The parts, by concern:
//   frames.ts        frame numbers and layout, the FrameWriter
//   hpack.ts         header compression (RFC 7541)
//   stream.ts        a stream: what a call sees of it, and its state
//   flow_control.ts  windows both ways, the answers they pace
//   connection.ts    one connection: frame dispatch, streams, SETTINGS, PING, GOAWAY
//   limits.ts        every size and limit
import type { Socket } from 'node:net';
import { H2Connection, type H2FrontOptions } from './connection.ts';

export { H2Connection, type H2FrontOptions } from './connection.ts';
export type { LocalCall, RequestHead, StreamSink } from './stream.ts';
export {
  PREFACE,
  H2_CANCEL,
  H2_COMPRESSION_ERROR,
  H2_FLOW_CONTROL_ERROR,
  H2_FRAME_SIZE_ERROR,
  H2_INTERNAL_ERROR,
  H2_NO_ERROR,
  H2_PROTOCOL_ERROR,
  H2_REFUSED_STREAM,
  H2_STREAM_CLOSED,
} from './frames.ts';

/** Serves one client connection whose first bytes (`head`, the preface included) were already read. */
export function serveH2(socket: Socket, head: Buffer, opts: H2FrontOptions): H2Connection {
  return new H2Connection(socket, head, opts);
}
