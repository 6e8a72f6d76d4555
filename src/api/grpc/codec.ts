// Request decoding for the services. Requests stay raw Buffers until the handler decodes them (so a
// proposal can carry the client's bytes), and a request etcd would refuse is refused first with
// etcd's own words: proto/wire_check.ts checks the bytes as etcd's generated decoders read them
// (protobufjs alone accepts field 0, stray group tags and more), then protobufjs decodes.
import { serviceType, type MessageType } from '../../proto/index.ts';
import { gogoWireChecker, type WireChecker } from '../../proto/wire_check.ts';
import { UnmarshalError } from './errors.ts';

const checkers = new WeakMap<MessageType, WireChecker>();

/**
 * Decodes a request of `type`. `stream` says the message was read from a stream (bidi, or the one
 * request of a server-streaming call): grpc-go words that failure differently from a unary one's.
 */
export function decode<T>(type: MessageType, raw: Buffer, stream = false): T {
  let check = checkers.get(type);
  if (check === undefined) checkers.set(type, (check = gogoWireChecker(type)));
  const bad = check(raw);
  if (bad !== undefined) throw new UnmarshalError(bad, stream);
  try {
    return type.decode(raw) as unknown as T;
  } catch (e) {
    throw new UnmarshalError(e instanceof Error ? e.message : String(e), stream);
  }
}

/** The request message type of each method of the .proto service `fullName`, by method name. */
export function requestTypes(fullName: string): Record<string, MessageType> {
  const out: Record<string, MessageType> = {};
  for (const m of serviceType(fullName).methodsArray) out[m.name] = m.resolvedRequestType as MessageType;
  return out;
}
