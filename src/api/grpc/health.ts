// grpc.health.v1.Health: SERVING while the member runs. Messages are tiny, so they are hand-encoded:
// HealthCheckRequest {string service = 1}; HealthCheckResponse {ServingStatus status = 1}, SERVING = 1.
import type * as grpc from '@grpc/grpc-js';

const SERVING = Buffer.from([0x08, 0x01]);

const method = (name: string, responseStream: boolean): grpc.MethodDefinition<Buffer, Buffer> => ({
  path: `/grpc.health.v1.Health/${name}`,
  requestStream: false,
  responseStream,
  requestSerialize: (b) => b,
  requestDeserialize: (b) => b,
  responseSerialize: (b) => b,
  responseDeserialize: (b) => b,
  originalName: name,
});

export function healthService(): [grpc.ServiceDefinition, grpc.UntypedServiceImplementation] {
  const definition = { Check: method('Check', false), Watch: method('Watch', true) };
  const impl = {
    Check: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb(null, SERVING),
    Watch: (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
      call.write(SERVING);
    },
  };
  return [definition as grpc.ServiceDefinition, impl];
}
