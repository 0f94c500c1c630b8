// ESLint (flat config): typescript-eslint's type-aware rules on every TypeScript file; formatting is Prettier's.
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import globals from 'globals';
import jest from 'eslint-plugin-jest';
import tseslint from 'typescript-eslint';
import { layerRules } from './eslint.layers.mjs';

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'client/dist/', 'coverage/', 'test-results/', 'tmp/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true, caughtErrors: 'none' },
      ],
      '@typescript-eslint/no-explicit-any': 'error',
      // Route handlers share one async signature whether or not they await.
      '@typescript-eslint/require-await': 'off',
      // Async DOM/process listeners are fine: each one catches its own failures.
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
    },
  },
  {
    // The sandbox parses untyped form and JSON bodies the way Twilio's servers would.
    files: ['sandbox/**/*.ts'],
    rules: { '@typescript-eslint/no-base-to-string': 'off' },
  },
  // Jest's own rules on the tests: no focused or disabled tests, no expect outside a test, no conditional expect.
  { files: ['tests/**/*.test.ts'], ...jest.configs['flat/recommended'] },
  {
    files: ['tests/**/*.test.ts'],
    rules: {
      // What asserts besides expect: the suites' expect* helpers, and waitFor (fails unless its condition comes true).
      'jest/expect-expect': ['warn', { assertFunctionNames: ['expect', 'expect*', 'waitFor'] }],
    },
  },
  {
    // Tests read parsed JSON answers and TwiML trees: untyped by nature.
    files: ['tests/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      // Fakes throw Twilio-shaped plain objects (what RestException carries), and test fixtures stringify freely.
      '@typescript-eslint/only-throw-error': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-base-to-string': 'off',
    },
  },
  ...layerRules,
  {
    // Sync data enters through a parser (lib/store/records.ts), never a cast: `item.data as X`
    // trusts whatever another version of the code, or a hand edit in the console, left there.
    files: ['lib/**/*.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: "TSAsExpression > MemberExpression.expression[property.name='data']",
          message: 'Parse stored data (lib/store/records.ts) instead of casting it.',
        },
      ],
    },
  },
  {
    files: ['**/*.mjs', '**/*.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: { globals: { ...globals.node }, parserOptions: { projectService: false, project: false } },
  },
  prettier,
);
