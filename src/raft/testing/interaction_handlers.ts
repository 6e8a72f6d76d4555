// The commands of the scenario scripts (src/raft/testdata/*.txt). Each returns what it printed; an empty
// output reads as "ok". See the scripts' comments for how they are used.

import {
  ConfChangeTransition,
  ConfChangeType,
  MessageType,
  emptySnapshot,
  type ConfChangeSingle,
  type NodeId,
} from '../raftpb.ts';
import type { Config } from '../raft.ts';
import { InteractionEnv, LogLevel, STATE_NAMES } from './interaction_env.ts';
import type { CmdArg, TestCase } from './datadriven.ts';

export class ScriptError extends Error {
  constructor(msg: string) {
    super(msg);
    this.name = 'ScriptError';
  }
}

const enc = new TextEncoder();

function positional(args: CmdArg[]): string[] {
  return args.filter((a) => a.vals.length === 0).map((a) => a.key);
}

function ids(args: CmdArg[]): NodeId[] {
  return positional(args).map((s) => {
    if (!/^\d+$/.test(s)) throw new ScriptError(`not a node id: ${s}`);
    return BigInt(s);
  });
}

function firstId(args: CmdArg[]): NodeId {
  const [id] = ids(args.slice(0, 1));
  if (id === undefined) throw new ScriptError('a node id is required');
  return id;
}

function kv(args: CmdArg[], key: string): string[] | undefined {
  return args.find((a) => a.key === key && a.vals.length > 0)?.vals;
}

function kv1(args: CmdArg[], key: string): string | undefined {
  return kv(args, key)?.[0];
}

function kvInt(args: CmdArg[], key: string): number | undefined {
  const v = kv1(args, key);
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new ScriptError(`${key}=${v}: not a number`);
  return Number(v);
}

function kvBool(args: CmdArg[], key: string): boolean {
  const v = kv1(args, key);
  if (v === undefined) return false;
  if (v !== 'true' && v !== 'false') throw new ScriptError(`${key}=${v}: not a boolean`);
  return v === 'true';
}

/** "v1 l2 r3 u4": add voter, add learner, remove, update (the conf change notation of the scripts). */
export function parseConfChanges(tokens: string[]): ConfChangeSingle[] {
  const types: Record<string, ConfChangeType> = {
    v: ConfChangeType.ConfChangeAddNode,
    l: ConfChangeType.ConfChangeAddLearnerNode,
    r: ConfChangeType.ConfChangeRemoveNode,
    u: ConfChangeType.ConfChangeUpdateNode,
  };
  return tokens.map((tok) => {
    const m = /^([vlru])(\d+)$/.exec(tok);
    const type = m?.[1] === undefined ? undefined : types[m[1]];
    if (m === null || type === undefined) throw new ScriptError(`bad conf change ${JSON.stringify(tok)}`);
    return { type, nodeId: BigInt(m[2] ?? '0') };
  });
}

const TRANSITIONS: Record<string, ConfChangeTransition> = {
  auto: ConfChangeTransition.ConfChangeTransitionAuto,
  implicit: ConfChangeTransition.ConfChangeTransitionJointImplicit,
  explicit: ConfChangeTransition.ConfChangeTransitionJointExplicit,
};

const LEVELS: Record<string, LogLevel> = {
  debug: LogLevel.Debug,
  info: LogLevel.Info,
  warn: LogLevel.Warn,
  error: LogLevel.Error,
  none: LogLevel.None,
};

function addNodes(env: InteractionEnv, args: CmdArg[]): void {
  const n = Number(positional(args)[0] ?? 'x');
  if (!Number.isInteger(n) || n < 1) throw new ScriptError('add-nodes needs a count');
  const snap = emptySnapshot();
  const cs = snap.metadata.confState;
  cs.voters = (kv(args, 'voters') ?? []).map((v) => BigInt(v));
  cs.learners = (kv(args, 'learners') ?? []).map((v) => BigInt(v));
  const index = kvInt(args, 'index');
  if (index !== undefined) {
    snap.metadata.index = index;
    snap.metadata.term = 1;
  }
  const content = kv1(args, 'content');
  if (content !== undefined) snap.data = enc.encode(content);
  const readOnly = kv1(args, 'read-only') ?? 'safe';
  if (readOnly !== 'safe' && readOnly !== 'lease-based') throw new ScriptError(`read-only=${readOnly}`);
  const template: Omit<Config, 'id' | 'storage' | 'rand'> = {
    // Short timeouts keep the scripts small: tick-election is 3 ticks, tick-heartbeat 1.
    electionTick: 3,
    heartbeatTick: 1,
    maxSizePerMsg: kvInt(args, 'max-size-per-msg') ?? Number.MAX_SAFE_INTEGER,
    maxInflightMsgs: kvInt(args, 'inflight') ?? 256,
    preVote: kvBool(args, 'prevote'),
    checkQuorum: kvBool(args, 'checkquorum'),
    stepDownOnRemoval: kvBool(args, 'step-down-on-removal'),
    readOnlyOption: readOnly === 'safe' ? 0 : 1,
  };
  env.addNodes(n, template, snap);
}

function proposeConfChange(env: InteractionEnv, tc: TestCase): void {
  const id = firstId(tc.args);
  const tokens = [...positional(tc.args.slice(1)), ...tc.input.split(/\s+/).filter((t) => t !== '')];
  const changes = parseConfChanges(tokens);
  const tname = kv1(tc.args, 'transition') ?? 'auto';
  const transition = TRANSITIONS[tname];
  if (transition === undefined) throw new ScriptError(`unknown transition ${tname}`);
  const rn = env.node(id).rawNode;
  if (kvBool(tc.args, 'v1')) {
    // The legacy single-change form (etcd's ConfChange), carried as EntryConfChange.
    const [c] = changes;
    if (c === undefined || changes.length > 1 || tname !== 'auto') {
      throw new ScriptError('v1 conf change takes exactly one change and no transition');
    }
    env.call(() =>
      rn.proposeConfChange({ type: c.type, nodeId: c.nodeId, context: new Uint8Array(0), id: 0n }),
    );
    return;
  }
  env.call(() => rn.proposeConfChange({ transition, changes, context: new Uint8Array(0) }));
}

function status(env: InteractionEnv, id: NodeId): void {
  const st = env.node(id).rawNode.status();
  const b = st.basic;
  env.write(
    `${b.id}: ${STATE_NAMES[b.softState.raftState] ?? b.softState.raftState} Term:${b.hardState.term} ` +
      `Lead:${b.softState.lead} Commit:${b.hardState.commit} Applied:${b.applied}` +
      (b.leadTransferee !== 0n ? ` LeadTransferee:${b.leadTransferee}` : ''),
  );
  if (st.progress.size === 0) return;
  for (const pid of [...st.progress.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))) {
    const pr = st.progress.get(pid);
    if (pr === undefined) continue;
    const state = ['StateProbe', 'StateReplicate', 'StateSnapshot'][pr.state] ?? String(pr.state);
    let s = `${pid}: ${state} match=${pr.match} next=${pr.next}`;
    if (pr.isLearner) s += ' learner';
    if (pr.pendingSnapshot > 0) s += ` pendingSnap=${pr.pendingSnapshot}`;
    if (pr.isPaused()) s += ' paused';
    env.write(s);
  }
}

function raftState(env: InteractionEnv): void {
  for (const n of env.nodes) {
    const st = n.rawNode.status();
    const voters = st.config.voters.ids();
    const role = voters.has(n.id) ? 'Voter' : st.config.learners.has(n.id) ? 'Learner' : 'Non-Member';
    const b = st.basic;
    const state = STATE_NAMES[b.softState.raftState] ?? String(b.softState.raftState);
    env.write(`${n.id}: ${state} (${role}) Term:${b.hardState.term} Lead:${b.softState.lead}`);
  }
}

const MSG_TYPES = new Map<string, MessageType>(
  Object.entries(MessageType)
    .filter(([, v]) => typeof v === 'number')
    .map(([k, v]) => [k, v as MessageType]),
);

/** Runs one command against the environment and returns its output ("ok" if it printed nothing). */
export function runCommand(env: InteractionEnv, tc: TestCase): string {
  const { args } = tc;
  switch (tc.cmd) {
    case 'log-level': {
      const lvl = LEVELS[positional(args)[0] ?? ''];
      if (lvl === undefined) throw new ScriptError('log-level debug|info|warn|error|none');
      env.level = lvl;
      break;
    }
    case 'add-nodes':
      addNodes(env, args);
      break;
    case 'campaign':
      env.call(() => env.node(firstId(args)).rawNode.campaign());
      break;
    case 'tick': {
      const n = env.node(firstId(args));
      const count = kvInt(args, 'count') ?? 1;
      for (let i = 0; i < count; i++) n.rawNode.tick();
      break;
    }
    case 'tick-election':
    case 'tick-heartbeat': {
      for (const id of ids(args)) {
        const n = env.node(id);
        const count = tc.cmd === 'tick-election' ? n.config.electionTick : n.config.heartbeatTick;
        for (let i = 0; i < count; i++) n.rawNode.tick();
      }
      break;
    }
    case 'set-rand': {
      // From now on the node's Rand.intn(n) returns value % n: its next randomized election
      // timeout (drawn when it changes role or term) is electionTick + value.
      const [id, value] = positional(args);
      if (id === undefined || value === undefined) throw new ScriptError('set-rand ID VALUE');
      env.node(BigInt(id)).rand.value = Number(value);
      break;
    }
    case 'propose': {
      const [id, data] = positional(args);
      if (id === undefined) throw new ScriptError('propose ID DATA');
      env.call(() => env.node(BigInt(id)).rawNode.propose(enc.encode(data ?? '')));
      break;
    }
    case 'propose-conf-change':
      proposeConfChange(env, tc);
      break;
    case 'process-ready': {
      const list = ids(args);
      for (const id of list) {
        if (list.length === 1) env.processReady(id);
        else {
          env.write(`> ${id} handling Ready`);
          env.withIndent(() => env.processReady(id));
        }
      }
      break;
    }
    case 'deliver-msgs': {
      const typeName = kv1(args, 'type');
      const type = typeName === undefined ? undefined : MSG_TYPES.get(typeName);
      if (typeName !== undefined && type === undefined) throw new ScriptError(`unknown type ${typeName}`);
      let handled = 0;
      for (const id of ids(args)) handled += env.deliverMsgs(id, false, type);
      for (const d of kv(args, 'drop') ?? []) handled += env.deliverMsgs(BigInt(d), true, type);
      if (handled === 0) env.write('no messages');
      break;
    }
    case 'stabilize':
      env.stabilize(ids(args));
      break;
    case 'restart':
      env.restartNode(firstId(args));
      break;
    case 'isolate':
      for (const id of ids(args)) env.isolated.add(id);
      break;
    case 'heal':
      env.isolated.clear();
      break;
    case 'status':
      status(env, firstId(args));
      break;
    case 'raft-log':
      env.write(env.raftLog(firstId(args)));
      break;
    case 'raft-state':
      raftState(env);
      break;
    case 'transfer-leadership': {
      const from = kvInt(args, 'from');
      const to = kvInt(args, 'to');
      if (from === undefined || to === undefined) throw new ScriptError('transfer-leadership from=ID to=ID');
      env.call(() => env.node(from).rawNode.transferLeader(BigInt(to)));
      break;
    }
    case 'read-index': {
      const [id, ctx] = positional(args);
      if (id === undefined || ctx === undefined) throw new ScriptError('read-index ID CTX');
      env.call(() => env.node(BigInt(id)).rawNode.readIndex(enc.encode(ctx)));
      break;
    }
    case 'report-unreachable': {
      const [id, target] = ids(args);
      if (id === undefined || target === undefined) throw new ScriptError('report-unreachable ID TARGET');
      env.node(id).rawNode.reportUnreachable(target);
      break;
    }
    case 'forget-leader':
      env.call(() => env.node(firstId(args)).rawNode.forgetLeader());
      break;
    case 'compact': {
      const [id, index] = positional(args);
      if (id === undefined || index === undefined) throw new ScriptError('compact ID INDEX');
      env.node(BigInt(id)).storage.compact(Number(index));
      env.write(env.raftLog(BigInt(id)));
      break;
    }
    default:
      throw new ScriptError(`unknown command ${tc.cmd}`);
  }
  const out = env.takeOutput();
  return out === '' ? 'ok\n' : out;
}
