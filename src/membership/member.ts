// A cluster member, how its ID is derived, how its peer URLs are checked, and the byte forms it takes
// inside the raft log (the ConfChange context and the "publish attributes" request). IDs are bigint
// everywhere and decimal strings in JSON, so a 64-bit ID never passes through a JS number.
import { createHash } from 'node:crypto';
import { ErrMemberBadURLs } from './errors.ts';

export interface Member {
  id: bigint;
  /** Empty until the member has started and published its attributes. */
  name: string;
  peerURLs: string[];
  clientURLs: string[];
  isLearner: boolean;
}

/** What a conf change carries: the member, and whether an AddNode promotes an existing learner. */
export interface ConfChangeContext {
  member: Member;
  isPromote: boolean;
}

/** The "publish" request: a started member announces its name and client URLs through the log. */
export interface MemberAttributes {
  id: bigint;
  name: string;
  clientURLs: string[];
}

const MAX_U64 = (1n << 64n) - 1n;

export function cloneMember(m: Member): Member {
  return { ...m, peerURLs: [...m.peerURLs], clientURLs: [...m.clientURLs] };
}

export function compareIds(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** etcd's string form of an ID: lower-case hex without padding. */
export const idHex = (id: bigint): string => id.toString(16);

function sha1First8(data: Buffer): bigint {
  return createHash('sha1').update(data).digest().readBigUInt64BE(0);
}

/**
 * A member's ID as etcd derives it: SHA-1 of the sorted peer URLs joined, the cluster token, and (for a
 * member added at runtime) the Unix time in seconds, so that re-adding the same URLs later gets a new ID.
 */
export function computeMemberId(peerURLs: readonly string[], token: string, nowUnixSec?: number): bigint {
  let s = [...peerURLs].sort().join('') + token;
  if (nowUnixSec !== undefined) s += String(Math.floor(nowUnixSec));
  return sha1First8(Buffer.from(s));
}

/** The cluster ID: SHA-1 of the sorted member IDs as big-endian uint64s. */
export function computeClusterId(memberIds: readonly bigint[]): bigint {
  const b = Buffer.alloc(8 * memberIds.length);
  [...memberIds].sort(compareIds).forEach((id, i) => b.writeBigUInt64BE(id, i * 8));
  return sha1First8(b);
}

const URL_RE = /^(https?):\/\/([^/?#@]+)$/;
const HOST_PORT_RE = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/;

/** True when `u` is http(s)://host:port with nothing after the port (what etcd accepts as a peer URL). */
export function isValidPeerURL(u: string): boolean {
  const m = URL_RE.exec(u);
  if (!m) return false;
  const hp = HOST_PORT_RE.exec(m[2]!);
  if (!hp) return false;
  const port = Number(hp[3]);
  return port >= 1 && port <= 65535;
}

/**
 * Checks and normalises a list of peer URLs as etcd's types.NewURLs does: at least one, each
 * http(s)://host:port without a path, surrounding spaces trimmed, returned sorted.
 * Throws ErrMemberBadURLs.
 */
export function parsePeerURLs(urls: readonly string[]): string[] {
  if (urls.length === 0) throw new ErrMemberBadURLs();
  const out = urls.map((u) => u.trim());
  for (const u of out) if (!isValidPeerURL(u)) throw new ErrMemberBadURLs();
  return out.sort();
}

// --- JSON forms (IDs as decimal strings) -------------------------------------------------------------

interface MemberJson {
  id: string;
  name?: string;
  peerURLs?: string[];
  clientURLs?: string[];
  isLearner?: boolean;
}

function parseId(v: unknown): bigint {
  if (typeof v !== 'string' || !/^\d{1,20}$/.test(v))
    throw new Error(`membership: bad member id ${String(v)}`);
  const id = BigInt(v);
  if (id > MAX_U64) throw new Error(`membership: member id out of range ${v}`);
  return id;
}

function strings(v: unknown, what: string): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) {
    throw new Error(`membership: bad ${what}`);
  }
  return [...(v as string[])];
}

export function memberToJson(m: Member): MemberJson {
  return {
    id: m.id.toString(),
    name: m.name,
    peerURLs: m.peerURLs,
    clientURLs: m.clientURLs,
    isLearner: m.isLearner,
  };
}

export function memberFromJson(o: unknown): Member {
  if (typeof o !== 'object' || o === null) throw new Error('membership: member is not an object');
  const j = o as Record<string, unknown>;
  const name = j['name'] ?? '';
  if (typeof name !== 'string') throw new Error('membership: bad member name');
  return {
    id: parseId(j['id']),
    name,
    peerURLs: strings(j['peerURLs'], 'peerURLs'),
    clientURLs: strings(j['clientURLs'], 'clientURLs'),
    isLearner: j['isLearner'] === true,
  };
}

const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: true });

function parseJson(b: Uint8Array, what: string): unknown {
  try {
    return JSON.parse(dec.decode(b));
  } catch (e) {
    throw new Error(`membership: undecodable ${what}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** The ConfChange.context of AddNode/AddLearnerNode/UpdateNode (and of a promote, with isPromote). */
export function encodeMemberContext(m: Member, isPromote = false): Uint8Array {
  return enc.encode(JSON.stringify({ ...memberToJson(m), isPromote }));
}

/** Throws a plain Error on malformed bytes: a committed entry that does not decode is a bug. */
export function decodeMemberContext(b: Uint8Array): ConfChangeContext {
  const o = parseJson(b, 'member context');
  return { member: memberFromJson(o), isPromote: (o as Record<string, unknown>)['isPromote'] === true };
}

export function encodeAttributes(a: MemberAttributes): Uint8Array {
  return enc.encode(JSON.stringify({ id: a.id.toString(), name: a.name, clientURLs: a.clientURLs }));
}

export function decodeAttributes(b: Uint8Array): MemberAttributes {
  const o = parseJson(b, 'member attributes');
  const m = memberFromJson(o);
  return { id: m.id, name: m.name, clientURLs: m.clientURLs };
}
