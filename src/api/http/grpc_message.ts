// gRPC's length-prefixed message (the gRPC over HTTP/2 protocol): a compressed flag byte, then the
// message length as a big-endian uint32, then the message. Used by the HTTP/2 front and the handlers
// that write framed bytes to it.

/** Bytes before each message on the wire: compressed flag (0) and big-endian length. */
export const GRPC_PREFIX = 5;

/** Writes the prefix of an uncompressed `len`-byte message into `b` at `at`. */
export function writeGrpcPrefix(b: Buffer, at: number, len: number): void {
  b[at] = 0;
  b.writeUInt32BE(len, at + 1);
}

/** `msg` with the gRPC message prefix. */
export function frame(msg: Uint8Array): Buffer {
  const b = Buffer.allocUnsafe(GRPC_PREFIX + msg.length);
  writeGrpcPrefix(b, 0, msg.length);
  b.set(msg, GRPC_PREFIX);
  return b;
}
