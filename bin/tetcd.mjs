// `npm start`: run the server in this process (so signals reach it).
import { register } from 'tsx/esm/api';
register();
await import('../src/cli/tetcd.ts');
