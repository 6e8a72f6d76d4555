// The client side of the member-list request a joining member sends to a running member's peer port
// (etcd does a GET /members on the peer URL): one request frame, one answer frame, then the connection ends.
import { TransportProtocolError } from './errors.ts';
import { frame, FrameKind, FrameReader, readReason } from './frame.ts';
import { parsePeerUrl } from './options.ts';
import { dialPeer, type PeerTls } from './secure.ts';

/** At most this much member list is accepted (a list of a few members is a few hundred bytes). */
const MAX_ANSWER_BYTES = 1 << 20;

/** Asks the member at `peerUrl` for its member list; resolves with the host's bytes, rejects on anything else. */
export function fetchMembersInfo(peerUrl: string, timeoutMs: number, tls?: PeerTls): Promise<Uint8Array> {
  const addr = parsePeerUrl(peerUrl);
  return new Promise((resolve, reject) => {
    const { socket: s, ready } = dialPeer(addr, tls);
    const reader = new FrameReader(MAX_ANSWER_BYTES);
    let done = false;
    const finish = (err: Error | undefined, data?: Uint8Array) => {
      if (done) return;
      done = true;
      s.destroy();
      if (err) reject(err);
      else resolve(data!);
    };
    s.setTimeout(timeoutMs, () => finish(new Error(`no member list from ${peerUrl} within ${timeoutMs} ms`)));
    s.on(ready, () => s.write(frame(FrameKind.MembersReq)));
    s.on('data', (chunk: Buffer) => {
      try {
        reader.push(chunk, (kind, payload) => {
          if (kind === FrameKind.MembersResp) finish(undefined, payload.slice());
          else if (kind === FrameKind.Reject) finish(new Error(`${peerUrl} refused: ${readReason(payload)}`));
          else finish(new TransportProtocolError(`unexpected frame kind ${kind} from ${peerUrl}`));
        });
      } catch (e) {
        finish(e instanceof Error ? e : new Error(String(e)));
      }
    });
    s.on('error', (err) => finish(err));
    s.on('close', () => finish(new Error(`${peerUrl} closed the connection without a member list`)));
  });
}
