// One lint gate. The raft core must stay pure: no Node modules, timers, clocks or randomness. Every
// folder under src/ imports only what DESIGN.md's layer table allows (scripts/eslint_layers.mjs; an
// upward import fails, see test/lint_layers.test.ts). A promise nobody awaits or handles is an error.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import layers from './scripts/eslint_layers.mjs';

export default tseslint.config(
  { ignores: ['node_modules/**', '**/*.tetcd/**', 'dist/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        URL: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        setImmediate: 'readonly',
        performance: 'readonly',
        TextEncoder: 'readonly',
        TextDecoder: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'off',
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  {
    // Type-aware rules: TypeScript files, with the types of tsconfig.json.
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { layers },
    rules: {
      // Await it, `void` it with a comment saying why nothing waits, or .catch() it (to fail-stop).
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            // node:test's test(), describe() and it() return promises the runner itself awaits.
            { from: 'package', package: 'node:test', name: ['test', 'describe', 'it', 'suite'] },
          ],
        },
      ],
      'layers/imports': 'error',
      'layers/no-rawnode-internals': 'error',
    },
  },
  {
    // One owner of the applied index: only the apply path moves the store's consistent index.
    files: ['src/**/*.ts'],
    ignores: ['src/server/apply/**', 'src/mvcc/**', 'src/raft/**', '**/*.test.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: "CallExpression[callee.property.name='setConsistentIndex']",
          message: 'the applied index moves only in server/apply/ (with the entry it belongs to)',
        },
      ],
    },
  },
  {
    files: ['src/raft/**/*.ts'],
    ignores: ['src/raft/**/*.test.ts', 'src/raft/sim/main.ts', 'src/raft/testing/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['node:*', 'fs', 'net', 'os', 'timers', 'crypto', 'child_process', '../../*'],
              message: 'src/raft is pure: no I/O or imports from outside raft/',
            },
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'setTimeout', message: 'raft is driven by tick()' },
        { name: 'setInterval', message: 'raft is driven by tick()' },
        { name: 'setImmediate', message: 'raft is driven by tick()' },
        { name: 'Date', message: 'time in raft is ticks' },
        { name: 'process', message: 'raft is pure' },
        { name: 'Buffer', message: 'raft uses Uint8Array' },
      ],
      'no-restricted-properties': ['error', { object: 'Math', property: 'random', message: 'inject a PRNG' }],
      'no-restricted-syntax': [
        'error',
        {
          selector:
            'FunctionDeclaration[async=true], ArrowFunctionExpression[async=true], FunctionExpression[async=true]',
          message: 'raft is synchronous',
        },
      ],
    },
  },
);
