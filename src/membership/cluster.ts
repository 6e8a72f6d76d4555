// The member set of one raft cluster (etcd's membership.RaftCluster): who is in it, who was removed
// (removed IDs are never reused), the checks made before a membership change is proposed, and the
// authoritative re-check plus mutation made when the committed conf change is applied. State is kept in
// memory and written through to the backend's `members` / `membersRemoved` buckets (and the cluster ID
// under `meta`), in the apply batch, so that it commits with the applied index.
import type { Bucket } from '../backend/schema.ts';
import { ConfChangeType, type ConfChange } from '../raft/raftpb.ts';
import {
  ErrIDExists,
  ErrIDNotFound,
  ErrIDRemoved,
  ErrLearnerNotReady,
  ErrMemberNotLearner,
  ErrNotEnoughStartedMembers,
  ErrPeerURLExists,
  ErrTooManyLearners,
  ErrUnhealthy,
  MembershipError,
} from './errors.ts';
import {
  cloneMember,
  compareIds,
  computeClusterId,
  computeMemberId,
  decodeMemberContext,
  encodeMemberContext,
  idHex,
  memberFromJson,
  memberToJson,
  parsePeerURLs,
  type Member,
} from './member.ts';

/** The slice of the Backend this module uses (writes join the backend's pending batch). */
export interface MembershipStore {
  get(bucket: Bucket, key: Uint8Array): Buffer | undefined;
  put(bucket: Bucket, key: Uint8Array, value: Uint8Array): void;
  del(bucket: Bucket, key: Uint8Array): void;
  forEach(
    bucket: Bucket,
    start: Uint8Array | undefined,
    end: Uint8Array | undefined,
    fn: (key: Buffer, value: Buffer) => boolean | void,
  ): void;
}

/** The leader's view of replication, for the promote-readiness check (raft Status().progress). */
export interface ProgressView {
  /** Match index of a member, undefined when raft tracks no progress for it. */
  match(id: bigint): number | undefined;
  /** The leader's own match (its last log index). */
  leaderMatch: number;
}

/** What applying a committed conf change did; on `ok: false` apply a no-op conf change to raft. */
export type ConfChangeOutcome =
  | { ok: true; kind: 'add' | 'promote' | 'remove' | 'update'; member: Member }
  | { ok: false; error: MembershipError };

export const META_CLUSTER_ID = Buffer.from('clusterID');
const REMOVED_VALUE = Buffer.from('removed');
/** etcd promotes a learner only when its match is at least this share of the leader's. */
export const LEARNER_READY_PERCENT = 0.9;
export const DEFAULT_MAX_LEARNERS = 1;

function idKey(id: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(id);
  return b;
}

/**
 * Parses --initial-cluster ("n1=http://a:2380,n2=http://b:2380"; a name may repeat to give a member
 * several URLs) into name -> sorted peer URLs. Throws a plain Error naming the bad part (a config error).
 */
export function parseInitialCluster(s: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const part of s.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new Error(`invalid --initial-cluster entry ${JSON.stringify(part)}: want name=url`);
    const name = part.slice(0, eq).trim();
    const url = part.slice(eq + 1).trim();
    let urls = out.get(name);
    if (!urls) out.set(name, (urls = []));
    urls.push(url);
  }
  for (const [name, urls] of out) {
    try {
      out.set(name, parsePeerURLs(urls));
    } catch {
      throw new Error(
        `invalid --initial-cluster URL for ${name}: ${urls.join(',')} (want http(s)://host:port)`,
      );
    }
  }
  return out;
}

export class RaftCluster {
  /** Learner limit applied at apply time (etcd --max-learners). */
  maxLearners = DEFAULT_MAX_LEARNERS;
  private store: MembershipStore | undefined;

  private constructor(
    private cid: bigint,
    private readonly byId: Map<bigint, Member>,
    private readonly removed: Set<bigint>,
    /** Members known from configuration whose AddNode has not been applied from the log yet. */
    private readonly provisional: Set<bigint>,
  ) {}

  /** A brand-new cluster from the bootstrap flags: member IDs from URLs + token, cluster ID from those. */
  static fromInitialCluster(initialCluster: string, token: string): RaftCluster {
    const byId = new Map<bigint, Member>();
    for (const [name, peerURLs] of parseInitialCluster(initialCluster)) {
      const id = computeMemberId(peerURLs, token);
      if (id === 0n) throw new Error('cannot use 0 as a member id');
      if (byId.has(id)) throw new Error(`member ${name} has the same ID as another member (${idHex(id)})`);
      byId.set(id, { id, name, peerURLs, clientURLs: [], isLearner: false });
    }
    const ids = [...byId.keys()];
    return new RaftCluster(computeClusterId(ids), byId, new Set(), new Set(ids));
  }

  /** A member joining an existing cluster, with the member list fetched from it. */
  static fromExisting(clusterId: bigint, members: readonly Member[]): RaftCluster {
    const byId = new Map(members.map((m) => [m.id, cloneMember(m)] as const));
    return new RaftCluster(clusterId, byId, new Set(), new Set(byId.keys()));
  }

  /** The persisted cluster, or undefined when this backend never held one. */
  static load(store: MembershipStore): RaftCluster | undefined {
    const cid = store.get('meta', META_CLUSTER_ID);
    if (!cid || cid.length !== 8) return undefined;
    const byId = new Map<bigint, Member>();
    store.forEach('members', undefined, undefined, (_k, v) => {
      const m = memberFromJson(JSON.parse(v.toString('utf8')));
      byId.set(m.id, m);
    });
    const removed = new Set<bigint>();
    store.forEach('membersRemoved', undefined, undefined, (k) => {
      removed.add(k.readBigUInt64BE(0));
    });
    const c = new RaftCluster(cid.readBigUInt64BE(0), byId, removed, new Set());
    c.store = store;
    return c;
  }

  /** Starts writing through to `store`; records the cluster ID there. */
  attach(store: MembershipStore): void {
    this.store = store;
    this.writeClusterId();
  }

  get clusterId(): bigint {
    return this.cid;
  }

  /** For a joining member that learns the cluster ID from its peers after construction. */
  setClusterId(id: bigint): void {
    this.cid = id;
    if (this.store) this.writeClusterId();
  }

  // --- queries (all return copies) ------------------------------------------------------------------

  members(): Member[] {
    return [...this.byId.values()].sort((a, b) => compareIds(a.id, b.id)).map(cloneMember);
  }

  member(id: bigint): Member | undefined {
    const m = this.byId.get(id);
    return m && cloneMember(m);
  }

  has(id: bigint): boolean {
    return this.byId.has(id);
  }

  voters(): Member[] {
    return this.members().filter((m) => !m.isLearner);
  }

  learners(): Member[] {
    return this.members().filter((m) => m.isLearner);
  }

  isRemoved(id: bigint): boolean {
    return this.removed.has(id);
  }

  removedIds(): bigint[] {
    return [...this.removed].sort(compareIds);
  }

  /** The member with this name; names are unique among started members (etcd panics otherwise). */
  memberByName(name: string): Member | undefined {
    if (name === '') return undefined; // unstarted members have no name yet
    let found: Member | undefined;
    for (const m of this.byId.values()) {
      if (m.name !== name) continue;
      if (found) throw new Error(`membership: two members named ${JSON.stringify(name)}`);
      found = m;
    }
    return found && cloneMember(found);
  }

  /** Peers for RawNode.bootstrap of a new cluster: one AddNode per initial member, with its context. */
  bootstrapPeers(): { id: bigint; context: Uint8Array }[] {
    return this.members().map((m) => ({ id: m.id, context: encodeMemberContext(m) }));
  }

  // --- checks before proposing ----------------------------------------------------------------------

  /**
   * Checks a MemberAdd and returns the normalised (sorted) URLs. Throws ErrMemberBadURLs,
   * ErrPeerURLExists, ErrTooManyLearners.
   */
  validateAdd(peerURLs: readonly string[], isLearner: boolean, maxLearners = this.maxLearners): string[] {
    const urls = parsePeerURLs(peerURLs);
    this.checkUrlsFree(urls, undefined, false);
    if (isLearner && this.learners().length + 1 > maxLearners) throw new ErrTooManyLearners();
    return urls;
  }

  /**
   * Validates a MemberAdd and builds the new member, its ID derived from the URLs and the time (in
   * seconds) as etcd does. Throws what validateAdd throws, plus ErrIDExists / ErrIDRemoved.
   */
  newMember(peerURLs: readonly string[], isLearner: boolean, nowMs: number): Member {
    const urls = this.validateAdd(peerURLs, isLearner);
    const id = computeMemberId(urls, '', Math.floor(nowMs / 1000));
    if (this.removed.has(id)) throw new ErrIDRemoved();
    if (this.byId.has(id)) throw new ErrIDExists();
    return { id, name: '', peerURLs: urls, clientURLs: [], isLearner };
  }

  /** Throws ErrIDRemoved / ErrIDNotFound. */
  validateRemove(id: bigint): void {
    this.mustExist(id);
  }

  /** Checks a MemberUpdate and returns the sorted URLs. Throws bad URLs, not found, Peer URLs exists. */
  validateUpdate(id: bigint, peerURLs: readonly string[]): string[] {
    const urls = parsePeerURLs(peerURLs);
    this.mustExist(id);
    this.checkUrlsFree(urls, id, false);
    return urls;
  }

  /**
   * Checks a MemberPromote: the member exists and is a learner, and, given the leader's progress, its
   * log is at least 90% of the leader's. Throws not found, ErrMemberNotLearner, ErrLearnerNotReady.
   */
  validatePromote(id: bigint, progress?: ProgressView): void {
    const m = this.mustExist(id);
    if (!m.isLearner) throw new ErrMemberNotLearner();
    if (progress) checkLearnerReady(id, progress);
  }

  // --- strict reconfiguration checks (etcd --strict-reconfig-check, on by default) -----------------
  // `active` holds the IDs of peers heard from recently (etcd uses the last 5 s); the local member
  // always counts as active. "Started" means the member has published its name.

  /** Throws ErrNotEnoughStartedMembers / ErrUnhealthy when adding a member would endanger the quorum. */
  mayAddMember(isLearner: boolean, localId: bigint, active: ReadonlySet<bigint>): void {
    if (!isLearner && !this.readyToAddVoter()) throw new ErrNotEnoughStartedMembers();
    const voters = this.voters();
    if (countActive(voters, localId, active) < voters.length) throw new ErrUnhealthy();
  }

  /** Throws ErrNotEnoughStartedMembers / ErrUnhealthy when removing `id` would endanger the quorum. */
  mayRemoveMember(id: bigint, localId: bigint, active: ReadonlySet<bigint>): void {
    const m = this.byId.get(id);
    if (m?.isLearner) return;
    const others = this.voters().filter((v) => v.id !== id);
    if (started(others) < quorum(others.length)) throw new ErrNotEnoughStartedMembers();
    // A member that is down is not part of the active quorum: removing it cannot hurt.
    if (id !== localId && !active.has(id)) return;
    const voters = this.voters();
    if (countActive(voters, localId, active) - 1 < quorum(voters.length - 1)) throw new ErrUnhealthy();
  }

  /** Throws ErrNotEnoughStartedMembers when the promoted learner would join a quorum that cannot form. */
  mayPromoteMember(_id: bigint): void {
    const voters = this.voters();
    // The learner counts as a member and as started.
    if (started(voters) + 1 < quorum(voters.length + 1)) throw new ErrNotEnoughStartedMembers();
  }

  private readyToAddVoter(): boolean {
    const voters = this.voters();
    const n = voters.length + 1;
    const s = started(voters);
    // Growing a one-member cluster to two (restoring from a backup) is always allowed.
    if (s === 1 && n === 2) return true;
    return s >= quorum(n);
  }

  // --- apply -----------------------------------------------------------------------------------------

  /**
   * Applies a committed conf change: re-validates against the applied state (two proposals may have
   * passed the pre-checks concurrently) and, if valid, updates the members and writes them to the store.
   * A change that fails validation changes nothing and returns the error for the proposer; the caller
   * then hands raft the conf change with nodeId 0, as etcd does.
   * Throws a plain Error only for an undecodable context or an ID mismatch (a bug, fail-stop).
   */
  applyConfChange(cc: ConfChange): ConfChangeOutcome {
    const id = cc.nodeId;
    if (this.removed.has(id)) return { ok: false, error: new ErrIDRemoved() };
    switch (cc.type) {
      case ConfChangeType.ConfChangeAddNode:
      case ConfChangeType.ConfChangeAddLearnerNode: {
        const ctx = decodeMemberContext(cc.context);
        if (ctx.member.id !== id) {
          throw new Error(`membership: conf change for ${idHex(id)} carries member ${idHex(ctx.member.id)}`);
        }
        const cur = this.byId.get(id);
        if (ctx.isPromote) {
          if (!cur) return { ok: false, error: new ErrIDNotFound() };
          if (!cur.isLearner) return { ok: false, error: new ErrMemberNotLearner() };
          cur.isLearner = false;
          this.provisional.delete(id);
          this.persist(cur);
          return { ok: true, kind: 'promote', member: cloneMember(cur) };
        }
        if (cur && !this.provisional.has(id)) return { ok: false, error: new ErrIDExists() };
        if (this.urlsTaken(ctx.member.peerURLs, id, true))
          return { ok: false, error: new ErrPeerURLExists() };
        const isLearner = cc.type === ConfChangeType.ConfChangeAddLearnerNode && ctx.member.isLearner;
        if (isLearner && this.appliedLearners(id) + 1 > this.maxLearners) {
          return { ok: false, error: new ErrTooManyLearners() };
        }
        // A provisional entry keeps the name it was configured with until the member publishes.
        const m: Member = { ...cloneMember(ctx.member), isLearner };
        if (!m.name && cur?.name) m.name = cur.name;
        this.byId.set(id, m);
        this.provisional.delete(id);
        this.persist(m);
        return { ok: true, kind: 'add', member: cloneMember(m) };
      }
      case ConfChangeType.ConfChangeRemoveNode: {
        const cur = this.byId.get(id);
        if (!cur) return { ok: false, error: new ErrIDNotFound() };
        this.byId.delete(id);
        this.provisional.delete(id);
        this.removed.add(id);
        if (this.store) {
          this.store.del('members', idKey(id));
          this.store.put('membersRemoved', idKey(id), REMOVED_VALUE);
        }
        return { ok: true, kind: 'remove', member: cloneMember(cur) };
      }
      case ConfChangeType.ConfChangeUpdateNode: {
        const cur = this.byId.get(id);
        if (!cur) return { ok: false, error: new ErrIDNotFound() };
        const ctx = decodeMemberContext(cc.context);
        if (ctx.member.id !== id) {
          throw new Error(`membership: conf change for ${idHex(id)} carries member ${idHex(ctx.member.id)}`);
        }
        if (this.urlsTaken(ctx.member.peerURLs, id, false)) {
          return { ok: false, error: new ErrPeerURLExists() };
        }
        // Only the peer URLs change; learner status, name and client URLs stay.
        cur.peerURLs = [...ctx.member.peerURLs];
        this.persist(cur);
        return { ok: true, kind: 'update', member: cloneMember(cur) };
      }
      default:
        throw new Error(`membership: unknown conf change type ${String(cc.type)}`);
    }
  }

  /**
   * Applies a published name and client URLs. Returns false for a removed member (ignored, as etcd
   * does); throws for an ID never seen (a bug: the member's AddNode precedes its publish in the log).
   */
  applyAttributes(id: bigint, name: string, clientURLs: readonly string[]): boolean {
    const m = this.byId.get(id);
    if (m) {
      m.name = name;
      m.clientURLs = [...clientURLs];
      this.persist(m);
      return true;
    }
    if (this.removed.has(id)) return false;
    throw new Error(`membership: attributes for unknown member ${idHex(id)}`);
  }

  // --- internals -------------------------------------------------------------------------------------

  private mustExist(id: bigint): Member {
    if (this.removed.has(id)) throw new ErrIDRemoved();
    const m = this.byId.get(id);
    if (!m) throw new ErrIDNotFound();
    return m;
  }

  private checkUrlsFree(urls: readonly string[], except: bigint | undefined, appliedOnly: boolean): void {
    if (this.urlsTaken(urls, except, appliedOnly)) throw new ErrPeerURLExists();
  }

  private urlsTaken(urls: readonly string[], except: bigint | undefined, appliedOnly: boolean): boolean {
    const want = new Set(urls);
    for (const m of this.byId.values()) {
      if (m.id === except || (appliedOnly && this.provisional.has(m.id))) continue;
      if (m.peerURLs.some((u) => want.has(u))) return true;
    }
    return false;
  }

  private appliedLearners(except: bigint): number {
    let n = 0;
    for (const m of this.byId.values()) {
      if (m.isLearner && m.id !== except && !this.provisional.has(m.id)) n++;
    }
    return n;
  }

  private persist(m: Member): void {
    this.store?.put('members', idKey(m.id), Buffer.from(JSON.stringify(memberToJson(m))));
  }

  private writeClusterId(): void {
    this.store?.put('meta', META_CLUSTER_ID, idKey(this.cid));
  }
}

/** Throws ErrIDNotFound when raft has no progress for `id`, ErrLearnerNotReady when it lags too far. */
export function checkLearnerReady(id: bigint, p: ProgressView): void {
  const match = p.match(id);
  if (match === undefined) throw new ErrIDNotFound();
  if (p.leaderMatch > 0 && match < LEARNER_READY_PERCENT * p.leaderMatch) throw new ErrLearnerNotReady();
}

function quorum(n: number): number {
  return Math.floor(n / 2) + 1;
}

function started(ms: readonly Member[]): number {
  return ms.filter((m) => m.name !== '').length;
}

function countActive(voters: readonly Member[], localId: bigint, active: ReadonlySet<bigint>): number {
  return voters.filter((m) => m.id === localId || active.has(m.id)).length;
}

// --- conf changes to propose (cluster-core sets `id` to its waiter ID) ------------------------------

export function addMemberConfChange(m: Member): ConfChange {
  return {
    type: m.isLearner ? ConfChangeType.ConfChangeAddLearnerNode : ConfChangeType.ConfChangeAddNode,
    nodeId: m.id,
    context: encodeMemberContext(m),
    id: 0n,
  };
}

export function removeMemberConfChange(id: bigint): ConfChange {
  return { type: ConfChangeType.ConfChangeRemoveNode, nodeId: id, context: new Uint8Array(0), id: 0n };
}

export function updateMemberConfChange(id: bigint, peerURLs: readonly string[]): ConfChange {
  const m: Member = { id, name: '', peerURLs: [...peerURLs], clientURLs: [], isLearner: false };
  return { type: ConfChangeType.ConfChangeUpdateNode, nodeId: id, context: encodeMemberContext(m), id: 0n };
}

/** A promote is an AddNode for the learner's ID whose context says isPromote. */
export function promoteMemberConfChange(id: bigint): ConfChange {
  const m: Member = { id, name: '', peerURLs: [], clientURLs: [], isLearner: false };
  return {
    type: ConfChangeType.ConfChangeAddNode,
    nodeId: id,
    context: encodeMemberContext(m, true),
    id: 0n,
  };
}
