// One lint gate. The raft core must stay pure: no Node modules, timers, clocks or randomness.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

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
