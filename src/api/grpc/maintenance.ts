// etcdserverpb.Maintenance: Status (raft view of this member), Defragment, Hash, HashKV, Alarm, MoveLeader.
import { createHash } from 'node:crypto';
import { setImmediate as tick } from 'node:timers/promises';
import {
  ALARM_TYPE_NAMES,
  type AlarmMember,
  type Auth,
  type Maintenance,
  type RaftStatus,
  type SnapshotExport,
} from '../../server/api.ts';
import { ErrNoLeader } from '../../server/errors.ts';
import { ClientError } from '../../pkg/errors.ts';
import { SERVER_VERSION } from '../../pkg/version.ts';
import { fromBigInt, sat, toBigInt, type Int64 } from '../../proto/index.ts';
import { decode, requestTypes } from './codec.ts';
import { serverStream, unary, type ServiceImpl, type StreamOut } from './router.ts';
import type { CallContext } from './call.ts';
import { Code, StatusError } from './status.ts';
import { callerOf, withCaller } from './auth.ts';
import { AuthError } from '../../auth/errors.ts';

const NO_LEADER = new ErrNoLeader().message;

/** An alarm as Status lists it: gogo's compact text form of AlarmMember (with its trailing space). */
function alarmText(a: AlarmMember): string {
  const parts: string[] = [];
  if (a.memberId !== 0n) parts.push(`memberID:${a.memberId}`);
  if (a.alarm !== 0) parts.push(`alarm:${ALARM_TYPE_NAMES[a.alarm] ?? a.alarm}`);
  return parts.map((p) => p + ' ').join('');
}

/**
 * etcd's Status errors: "no leader" when the member knows none, then one entry per alarm raised.
 */
export function statusErrors(leader: bigint, alarms: readonly AlarmMember[]): string[] {
  const errors = leader === 0n ? [NO_LEADER] : [];
  for (const a of alarms) errors.push(alarmText(a));
  return errors;
}

/** Chunks written but not yet on the socket before the sender waits (the stream's backpressure). */
const SNAPSHOT_IN_FLIGHT = 4;
/** Chunks sent between turns given to the event loop (1 MiB). */
const SNAPSHOT_YIELD_CHUNKS = 32;

/**
 * Sends a snapshot as etcd 3.4's Snapshot does: the file in chunks, each with the bytes still to come
 * and no header, then the sha256 of the whole file as one more message (remaining_bytes 0).
 */
async function sendSnapshot(snap: SnapshotExport, ctx: CallContext, out: StreamOut): Promise<void> {
  const h = createHash('sha256');
  let sent = 0;
  let inFlight = 0;
  let chunks = 0;
  let wake: (() => void) | undefined;
  const written = () => {
    inFlight--;
    wake?.();
  };
  const onAbort = () => wake?.();
  ctx.signal.addEventListener('abort', onAbort);
  try {
    for (let r = await snap.chunks.next(); !r.done; r = await snap.chunks.next()) {
      const blob = r.value;
      sent += blob.length;
      h.update(blob);
      inFlight++;
      out.write({ remainingBytes: snap.size - sent, blob }, written);
      while (inFlight >= SNAPSHOT_IN_FLIGHT && !out.closed && !ctx.signal.aborted) {
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
      if (out.closed || ctx.signal.aborted) return;
      // A socket that drains as fast as it is written never makes the loop wait: let other work run.
      if (++chunks % SNAPSHOT_YIELD_CHUNKS === 0) await tick();
      if (out.closed || ctx.signal.aborted) return;
    }
    out.write({ remainingBytes: 0, blob: h.digest() });
    out.end();
  } finally {
    ctx.signal.removeEventListener('abort', onAbort);
    snap.close();
  }
}

export function maintenanceService(m: Maintenance, status: RaftStatus, auth: Auth): ServiceImpl {
  const t = requestTypes('etcdserverpb.Maintenance');
  const header = () => status.header({ revision: status.rev() });
  // etcd's authMaintenanceServer: Snapshot, Hash, HashKV and Defragment need the root role; it returns
  // the auth package's error untranslated (code Unknown, "auth: permission denied").
  const admin = async (ctx: CallContext) => {
    try {
      await withCaller(auth, ctx, (ai) => auth.isAdminPermitted(ai));
    } catch (err) {
      if (err instanceof AuthError) throw new StatusError(Code.UNKNOWN, err.raw);
      throw err;
    }
  };
  return {
    Status: unary((raw) => {
      decode(t['Status']!, raw);
      const s = m.status();
      return {
        header: header(),
        version: SERVER_VERSION,
        dbSize: s.dbSize,
        leader: fromBigInt(s.leader, true),
        raftIndex: s.raftIndex,
        raftTerm: s.raftTerm,
        raftAppliedIndex: s.raftAppliedIndex,
        dbSizeInUse: s.dbSizeInUse,
        isLearner: s.isLearner,
        errors: statusErrors(s.leader, s.alarms),
      };
    }),
    Snapshot: serverStream(async (raw, ctx, out) => {
      decode(t['Snapshot']!, raw, true);
      await admin(ctx);
      await sendSnapshot(await m.snapshot(), ctx, out);
    }),
    HashKV: unary(async (raw, ctx) => {
      const req = decode<{ revision: Int64 }>(t['HashKV']!, raw);
      await admin(ctx);
      const h = await m.hashKV(sat(req.revision));
      return {
        header: header(),
        hash: h.hash,
        compactRevision: h.compactRevision,
        hashRevision: h.hashRevision,
      };
    }),
    Hash: unary(async (raw, ctx) => {
      decode(t['Hash']!, raw);
      await admin(ctx);
      const h = await m.hash();
      return { header: status.header({ revision: h.revision }), hash: h.hash };
    }),
    // etcd's blocks every read and write while it runs; this one runs beside them (Backend.defragment).
    Defragment: unary(async (raw, ctx) => {
      decode(t['Defragment']!, raw);
      await admin(ctx);
      await m.defragment();
      return {}; // etcd 3.4 answers an empty DefragmentResponse: no header
    }),
    MoveLeader: unary(async (raw) => {
      const req = decode<{ targetID: Int64 }>(t['MoveLeader']!, raw);
      await m.moveLeader(toBigInt(req.targetID, true));
      return { header: header() };
    }),
    // Through the log, answered as etcd's applier answers: no header (an empty list prints as {}).
    // etcd passes this call's errors on without its error table: every one is Unknown.
    Alarm: unary(async (raw, ctx) => {
      const req = decode<{ action: number; memberID: Int64; alarm: number }>(t['Alarm']!, raw);
      try {
        // Through the log: a token is looked up as for any proposal (the answer is not checked).
        await callerOf(auth, ctx);
        const r = await m.alarm(raw, req);
        return { alarms: r.alarms.map((a) => ({ memberID: fromBigInt(a.memberId, true), alarm: a.alarm })) };
      } catch (err) {
        if (err instanceof ClientError) {
          throw new StatusError(Code.UNKNOWN, err instanceof AuthError ? err.raw : err.message);
        }
        throw err;
      }
    }),
  };
}
