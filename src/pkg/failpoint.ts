// Named failpoints (DESIGN.md decision 7). Off unless the environment variable TETCD_FAILPOINTS names
// them, e.g. TETCD_FAILPOINTS="walAfterSave=crash@20" crashes the process (SIGKILL-like exit, no
// cleanup) the 20th time `walAfterSave` is reached. `panic` instead throws a plain Error (a bug, as a
// broken invariant would throw) the Nth time: "mvccPutBeforeIndex=panic" tests fail-stop.

interface Armed {
  action: 'crash' | 'panic';
  after: number;
  hits: number;
}

const armed = new Map<string, Armed>();

for (const spec of (process.env['TETCD_FAILPOINTS'] ?? '').split(',')) {
  const m = /^\s*([A-Za-z0-9_]+)=(crash|panic)(?:@(\d+))?\s*$/.exec(spec);
  if (m) armed.set(m[1]!, { action: m[2] as Armed['action'], after: Number(m[3] ?? 1), hits: 0 });
}

/**
 * Marks a failpoint; does nothing unless armed. A `panic` throws a plain Error carrying
 * `panicMessage` (default "failpoint <name>"), never a ClientError.
 */
export function failpoint(name: string, panicMessage?: string): void {
  if (armed.size === 0) return;
  const a = armed.get(name);
  if (!a) return;
  a.hits++;
  if (a.hits < a.after) return;
  if (a.action === 'crash') process.kill(process.pid, 'SIGKILL');
  else throw new Error(panicMessage ?? `failpoint ${name}`);
}
