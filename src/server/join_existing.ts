// A new member started with --initial-cluster-state existing (after `member add`): it asks the other
// members named in --initial-cluster for the cluster ID and member list over their peer ports, finds
// itself in that list by its advertised peer URLs, and takes the ID the cluster gave it.
import { RaftCluster, parseInitialCluster } from '../membership/cluster.ts';
import { decodeClusterInfo, findMemberByPeerUrls } from '../membership/join.ts';
import { fetchMembersInfo, type PeerTls } from '../transport/transport.ts';

/** Why a member could not join; bootstrap reports it as a JoinError. */
export class JoinError extends Error {}

export interface JoinConfig {
  name: string;
  advertisePeerUrls: string[];
  initialCluster: string;
  peerTls?: PeerTls | undefined;
}

export interface Joined {
  cluster: RaftCluster;
  memberId: bigint;
  /** The peer URL that answered. */
  from: string;
}

const ROUNDS = 5;
const REQUEST_TIMEOUT_MS = 2000;
const ROUND_PAUSE_MS = 500;

export async function joinExisting(cfg: JoinConfig): Promise<Joined> {
  const own = new Set(cfg.advertisePeerUrls);
  const urls: string[] = [];
  for (const [name, peerURLs] of parseInitialCluster(cfg.initialCluster)) {
    if (name === cfg.name) continue;
    for (const u of peerURLs) if (!own.has(u)) urls.push(u);
  }
  if (urls.length === 0) {
    throw new JoinError('--initial-cluster-state existing needs --initial-cluster to name other members');
  }
  const errors: string[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    if (round > 0) await new Promise((r) => setTimeout(r, ROUND_PAUSE_MS));
    for (const url of urls) {
      let info;
      try {
        info = decodeClusterInfo(await fetchMembersInfo(url, REQUEST_TIMEOUT_MS, cfg.peerTls));
      } catch (e) {
        errors.push(`${url}: ${e instanceof Error ? e.message : String(e)}`);
        continue;
      }
      const me = findMemberByPeerUrls(info.members, cfg.advertisePeerUrls);
      if (!me) {
        throw new JoinError(
          `member with peer URLs ${cfg.advertisePeerUrls.join(',')} not found in the cluster ` +
            `(run "etcdctl member add" first)`,
        );
      }
      return { cluster: RaftCluster.fromExisting(info.clusterId, info.members), memberId: me.id, from: url };
    }
  }
  throw new JoinError(
    `could not get the member list from any peer (${errors.slice(-urls.length).join('; ')})`,
  );
}
