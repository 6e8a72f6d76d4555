// The client side of the requests a member sends to another member's peer port outside the raft
// stream, each on a connection of its own: one request frame, one answer frame, then the end. A joining
// member asks for the member list (etcd: GET /members on the peer URL); a corruption check asks for
// the member's HashKV (etcd: POST /members/hashkv).
import { TransportProtocolError } from './errors.ts';
import { frame, FrameKind, FrameReader, readReason } from './frame.ts';
import { parsePeerUrl } from './options.ts';
import { dialPeer, type PeerTls } from './secure.ts';

/** At most this much answer is accepted (a list of a few members is a few hundred bytes). */
const MAX_ANSWER_BYTES = 1 << 20;

/** The peer answered with a Reject frame: `reason` is its text (e.g. the error a HashKV met). */
export class PeerRefusedError extends Error {
  constructor(
    peerUrl: string,
    readonly reason: string,
  ) {
    super(`${peerUrl} refused: ${reason}`);
    this.name = 'PeerRefusedError';
  }
}

/** Sends one `kind` frame to `peerUrl` and resolves with the payload of its `answer` frame. */
function peerRequest(
  peerUrl: string,
  kind: FrameKind,
  payload: Uint8Array | undefined,
  answer: FrameKind,
  what: string,
  timeoutMs: number,
  tls: PeerTls | undefined,
): Promise<Uint8Array> {
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
    s.setTimeout(timeoutMs, () => finish(new Error(`no ${what} from ${peerUrl} within ${timeoutMs} ms`)));
    s.on(ready, () => s.write(frame(kind, payload)));
    s.on('data', (chunk: Buffer) => {
      try {
        reader.push(chunk, (k, p) => {
          if (k === answer) finish(undefined, p.slice());
          else if (k === FrameKind.Reject) finish(new PeerRefusedError(peerUrl, readReason(p)));
          else finish(new TransportProtocolError(`unexpected frame kind ${k} from ${peerUrl}`));
        });
      } catch (e) {
        finish(e instanceof Error ? e : new Error(String(e)));
      }
    });
    s.on('error', (err) => finish(err));
    s.on('close', () => finish(new Error(`${peerUrl} closed the connection without a ${what}`)));
  });
}

/** Asks the member at `peerUrl` for its member list; resolves with the host's bytes, rejects on anything else. */
export function fetchMembersInfo(peerUrl: string, timeoutMs: number, tls?: PeerTls): Promise<Uint8Array> {
  return peerRequest(
    peerUrl,
    FrameKind.MembersReq,
    undefined,
    FrameKind.MembersResp,
    'member list',
    timeoutMs,
    tls,
  );
}

/**
 * Asks the member at `peerUrl` for its HashKV: `req` is an encoded etcdserverpb.HashKVRequest, the
 * answer an encoded HashKVResponse; an error the peer met rejects with PeerRefusedError.
 */
export function fetchHashKV(
  peerUrl: string,
  req: Uint8Array,
  timeoutMs: number,
  tls?: PeerTls,
): Promise<Uint8Array> {
  return peerRequest(peerUrl, FrameKind.HashKVReq, req, FrameKind.HashKVResp, 'hash', timeoutMs, tls);
}
