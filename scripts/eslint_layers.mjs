// ESLint rules of tetcd's own (a local plugin, loaded by eslint.config.js):
//   layers/imports     every folder under src/ imports only what DESIGN.md's layer table allows
//   layers/no-rawnode-internals   outside src/raft nothing reaches into a RawNode's `raft` (type-aware)
// Tests (*.test.ts) are exempt: they may build any part from its pieces.
import { dirname, relative, resolve, sep } from 'node:path';

const SRC = resolve(dirname(new URL(import.meta.url).pathname), '..', 'src');

/** raft's wire types and codecs: the raftpb of DESIGN.md's proto/, importable below the server too. */
const RAFTPB = ['raft/raftpb.ts', 'raft/raftpb_codec.ts', 'raft/raftpb_wire.ts'];
/** What the client API sees of the server: its interfaces module, and error classes of any layer. */
const SERVER_API = ['server/api.ts', 'errors'];

/**
 * Each layer (a folder under src/, the longest match wins) and what it may import besides itself:
 * folders, single files, or 'errors' (any errors.ts). pkg/ and proto/ are the base anyone may use.
 * This is DESIGN.md's table; a folder missing here may import only pkg/ and proto/.
 */
export const LAYERS = {
  pkg: [],
  proto: ['pkg'],
  raft: [],
  wal: ['pkg', 'proto', ...RAFTPB],
  bbolt: ['pkg'],
  backend: ['pkg', 'proto'],
  snap: ['pkg', 'proto', 'bbolt', 'backend', 'wal', ...RAFTPB],
  mvcc: ['pkg', 'proto', 'backend', ...RAFTPB],
  lease: ['pkg', 'proto', 'backend'],
  auth: ['pkg', 'proto', 'backend'],
  membership: ['pkg', 'proto', 'backend', ...RAFTPB],
  transport: ['pkg', 'proto', ...RAFTPB],
  server: [
    'pkg',
    'proto',
    'raft',
    'wal',
    'snap',
    'bbolt',
    'backend',
    'mvcc',
    'lease',
    'auth',
    'membership',
    'transport',
  ],
  'api/http': ['pkg', 'proto', ...SERVER_API],
  'api/grpc': ['pkg', 'proto', 'api/http', ...SERVER_API],
  'api/gateway': ['pkg', 'proto', 'api/grpc', 'api/http', ...SERVER_API],
  ui: [],
  client: ['pkg', 'proto'],
  cli: ['pkg', 'proto', 'client', 'server', 'api', 'snap', 'bbolt', 'backend'],
};

/** Single files allowed one import beyond their layer, each with the reason; keep this list short. */
export const EXCEPTIONS = {};

const LAYER_NAMES = Object.keys(LAYERS).sort((a, b) => b.length - a.length);

/** The layer of a path relative to src/ ('' if none). */
function layerOf(rel) {
  for (const l of LAYER_NAMES) if (rel === l || rel.startsWith(l + '/')) return l;
  return rel.split('/')[0] ?? '';
}

function matches(rel, entry) {
  if (entry === 'errors') return rel === 'errors.ts' || rel.endsWith('/errors.ts');
  if (entry.endsWith('.ts')) return rel === entry;
  return rel === entry || rel.startsWith(entry + '/');
}

/** Why `from` (relative to src/) may not import `to`, or undefined when it may. */
export function layerViolation(from, to) {
  const src = layerOf(from);
  const dst = layerOf(to);
  if (src === dst) return undefined;
  const allowed = LAYERS[src] ?? ['pkg', 'proto'];
  if (allowed.some((e) => matches(to, e))) return undefined;
  if ((EXCEPTIONS[from] ?? []).includes(to)) return undefined;
  return `${src}/ may not import ${to} (layer ${dst}/; allowed: ${allowed.join(', ') || 'nothing outside ' + src + '/'})`;
}

const toPosix = (p) => p.split(sep).join('/');

const imports = {
  meta: {
    type: 'problem',
    docs: { description: "imports follow DESIGN.md's layer table" },
    schema: [],
    messages: { upward: '{{why}}' },
  },
  create(context) {
    const file = context.filename;
    const rel = toPosix(relative(SRC, file));
    if (rel.startsWith('..') || rel.endsWith('.test.ts')) return {};
    const check = (node) => {
      const spec = node.source?.value;
      if (typeof spec !== 'string' || !spec.startsWith('.')) return;
      const to = toPosix(relative(SRC, resolve(dirname(file), spec)));
      if (to.startsWith('..')) {
        context.report({ node: node.source, messageId: 'upward', data: { why: `${spec} is outside src/` } });
        return;
      }
      const why = layerViolation(rel, to);
      if (why) context.report({ node: node.source, messageId: 'upward', data: { why } });
    };
    return {
      ImportDeclaration: check,
      ExportNamedDeclaration: check,
      ExportAllDeclaration: check,
      ImportExpression: check,
    };
  },
};

const noRawNodeInternals = {
  meta: {
    type: 'problem',
    docs: { description: "nothing outside src/raft reaches into RawNode's raft" },
    schema: [],
    messages: {
      internals:
        "RawNode's `raft` is raft's own: use RawNode's methods (propose, proposeBatch, status queries)",
    },
  },
  create(context) {
    const rel = toPosix(relative(SRC, context.filename));
    if (rel.startsWith('raft/') || rel.endsWith('.test.ts')) return {};
    const services = context.sourceCode.parserServices;
    if (!services?.program) return {};
    const checker = services.program.getTypeChecker();
    return {
      MemberExpression(node) {
        if (node.computed || node.property.type !== 'Identifier' || node.property.name !== 'raft') return;
        const tsNode = services.esTreeNodeToTSNodeMap.get(node.object);
        const type = checker.getTypeAtLocation(tsNode);
        if (type.getSymbol()?.getName() === 'RawNode') context.report({ node, messageId: 'internals' });
      },
    };
  },
};

export default { rules: { imports, 'no-rawnode-internals': noRawNodeInternals } };
