// Alarms raised on members (etcd's v3alarm.AlarmStore): kept in the backend's `alarm` bucket, one key
// per alarm, the key being the marshaled etcdserverpb.AlarmMember and the value empty, as etcd stores
// them, so a data dir reads the same in both. Changed only by applying an Alarm entry (so every member
// holds the same set); writes join the backend batch of that entry, with its applied index.
import type { Backend } from '../backend/backend.ts';
import { Reader, sizeU64, Writer } from '../raft/raftpb_wire.ts';

/** etcdserverpb.AlarmType. */
export const enum AlarmType {
  NONE = 0,
  NOSPACE = 1,
  CORRUPT = 2,
}

export { ALARM_TYPE_NAMES } from './api.ts';

export interface AlarmMember {
  memberId: bigint;
  alarm: number;
}

/** AlarmMember as gogo marshals it: fields in order, zero values left out. */
export function encodeAlarmMember(m: AlarmMember): Buffer {
  let size = 0;
  if (m.memberId !== 0n) size += 1 + sizeU64(m.memberId);
  if (m.alarm !== 0) size += 1 + sizeU64(BigInt.asUintN(64, BigInt(m.alarm)));
  const b = Buffer.allocUnsafe(size);
  const w = new Writer(b, 0);
  if (m.memberId !== 0n) w.u64Field(1, m.memberId);
  if (m.alarm !== 0) w.enumField(2, m.alarm);
  return b;
}

export function decodeAlarmMember(b: Uint8Array): AlarmMember {
  const r = new Reader(b);
  const m: AlarmMember = { memberId: 0n, alarm: 0 };
  while (r.pos < b.length) {
    const key = r.key();
    if (key === 0x08) m.memberId = r.u64();
    else if (key === 0x10) m.alarm = r.int32();
    else throw new Error(`alarm bucket: unexpected field key ${key}`);
  }
  return m;
}

export class AlarmStore {
  /** type -> member ID -> alarm. */
  private readonly types = new Map<number, Map<bigint, AlarmMember>>();

  constructor(private readonly backend: Backend) {
    this.load();
  }

  /** Reads the bucket again (the backend now holds a snapshot's data). */
  reload(): void {
    this.types.clear();
    this.load();
  }

  private load(): void {
    this.backend.forEach('alarm', undefined, undefined, (k: Uint8Array) => {
      this.add(decodeAlarmMember(k));
    });
  }

  /** The alarm now raised for (id, type): the one already there, or a new one, persisted. */
  activate(memberId: bigint, alarm: number): AlarmMember {
    const m: AlarmMember = { memberId, alarm };
    const cur = this.add(m);
    if (cur !== m) return cur;
    this.backend.put('alarm', encodeAlarmMember(m), Buffer.alloc(0));
    return m;
  }

  /** Lowers the alarm (id, type); undefined when it was not raised. */
  deactivate(memberId: bigint, alarm: number): AlarmMember | undefined {
    const set = this.types.get(alarm);
    const m = set?.get(memberId);
    if (!set || !m) return undefined;
    set.delete(memberId);
    this.backend.del('alarm', encodeAlarmMember(m));
    return m;
  }

  /** Whether an alarm of this type is raised (no list built: asked for every applied entry). */
  has(alarm: number): boolean {
    return (this.types.get(alarm)?.size ?? 0) > 0;
  }

  /** The alarms of one type, or of every type for NONE. */
  get(alarm: number): AlarmMember[] {
    if (alarm !== AlarmType.NONE) return [...(this.types.get(alarm)?.values() ?? [])];
    const out: AlarmMember[] = [];
    for (const set of this.types.values()) out.push(...set.values());
    return out;
  }

  private add(m: AlarmMember): AlarmMember {
    let set = this.types.get(m.alarm);
    if (!set) this.types.set(m.alarm, (set = new Map()));
    const cur = set.get(m.memberId);
    if (cur) return cur;
    set.set(m.memberId, m);
    return m;
  }
}
