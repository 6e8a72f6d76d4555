// grpc-js service definitions built from the loaded .proto services. Requests stay raw Buffers until the
// handler decodes them (so a proposal can carry the client's bytes and a bad message gets a clean
// error); responses are encoded from plain objects.
import type * as grpc from '@grpc/grpc-js';
import { messageType, serviceType, type MessageType } from '../../proto/index.ts';
import { UnmarshalError } from './errors.ts';

export function decode<T>(type: MessageType, raw: Buffer): T {
  try {
    return type.decode(raw) as unknown as T;
  } catch (e) {
    throw new UnmarshalError(e instanceof Error ? e.message : String(e));
  }
}

export interface MethodInfo {
  requestType: MessageType;
  responseType: MessageType;
}

/** The definition grpc-js wants, plus the message types of each method by name. */
export function serviceDefinition(fullName: string): {
  definition: grpc.ServiceDefinition;
  methods: Record<string, MethodInfo>;
} {
  const svc = serviceType(fullName);
  const definition: Record<string, grpc.MethodDefinition<Buffer, object>> = {};
  const methods: Record<string, MethodInfo> = {};
  for (const m of svc.methodsArray) {
    const requestType = messageType(m.resolvedRequestType!.fullName.slice(1));
    const responseType = messageType(m.resolvedResponseType!.fullName.slice(1));
    methods[m.name] = { requestType, responseType };
    definition[m.name] = {
      path: `/${fullName}/${m.name}`,
      requestStream: !!m.requestStream,
      responseStream: !!m.responseStream,
      requestSerialize: (b: Buffer) => b,
      requestDeserialize: (b: Buffer) => b,
      responseSerialize: (v: object) => Buffer.from(responseType.encode(v).finish()),
      responseDeserialize: (b: Buffer) => responseType.decode(b),
      originalName: m.name,
    };
  }
  return { definition: definition as grpc.ServiceDefinition, methods };
}
