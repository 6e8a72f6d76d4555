// Pieces shared by the HTTP/2 front's tests: a raw-bytes gRPC method shape and a frame builder.

const raw = (b: Buffer) => b;

/** A grpc-js method definition's (de)serializers for raw Buffer messages. */
export const rawMessages = {
  requestSerialize: raw,
  requestDeserialize: raw,
  responseSerialize: raw,
  responseDeserialize: raw,
};

/** One HTTP/2 frame (RFC 9113 4.1): 24-bit length, type, flags, stream id, payload. */
export function h2Frame(type: number, flags: number, id: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(id, 5);
  return Buffer.concat([h, payload]);
}
