// The attacker's process (forked by test/h2_attacks.test.ts): runs one attack it is sent, sends back
// the report, exits.
import { runAttack, type AttackSpec } from './h2_attacker.ts';

process.once('message', (spec: AttackSpec) => {
  runAttack(spec).then(
    (report) => process.send!({ report }, () => process.exit(0)),
    (err: unknown) => process.send!({ error: String((err as Error)?.stack ?? err) }, () => process.exit(1)),
  );
});
