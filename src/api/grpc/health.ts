// grpc.health.v1.Health: SERVING while the member runs. Messages are tiny, so they are hand-encoded:
// HealthCheckRequest {string service = 1}; HealthCheckResponse {ServingStatus status = 1}, SERVING = 1.
import { serverStream, unary, type GrpcRouter } from './router.ts';
import { checkHealthCheckRequest } from '../../proto/wire_check.ts';
import { UnmarshalError } from './errors.ts';

/** Refuses a request etcd's build of the health service would not decode. */
function check(raw: Buffer, stream: boolean): void {
  const bad = checkHealthCheckRequest(raw);
  if (bad !== undefined) throw new UnmarshalError(bad, stream);
}

const SERVING = Buffer.from([0x08, 0x01]);

export function addHealthService(router: GrpcRouter): void {
  router.method(
    '/grpc.health.v1.Health/Check',
    unary((raw) => {
      check(raw, false);
      return SERVING;
    }),
  );
  // Watch answers the current status and stays open until the client goes.
  router.method(
    '/grpc.health.v1.Health/Watch',
    serverStream((raw, ctx, out) => {
      check(raw, true);
      out.write(SERVING);
      return new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve()));
    }),
  );
}
