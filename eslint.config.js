// Lint: typescript-eslint's recommended rules, no import cycles, and the boundaries between the
// parts (docs/design.md, "Parts"): the store is reached only through the bus; the edges (channel,
// cli, console) never import the store or the bus's core; leaves import nothing of ours.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { createNodeResolver, importX } from 'eslint-plugin-import-x';

/** `no-restricted-imports` for a part: the folders it must not import, each with the reason. */
function forbid(...rules) {
  return {
    'no-restricted-imports': ['error', {
      patterns: rules.map(([group, message, allowTypeImports = false]) => ({ group, message, allowTypeImports })),
    }],
  };
}

const STORE = ['**/store/*', '**/store/**/*'];
const CORE = ['**/bus/core.js'];

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', '.cache/', 'plugin/', 'docs/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    plugins: { 'import-x': importX },
    settings: {
      'import-x/extensions': ['.ts', '.js'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      // Our imports name the compiled .js file of a .ts source.
      'import-x/resolver-next': [createNodeResolver({ extensions: ['.ts', '.js'], extensionAlias: { '.js': ['.ts', '.js'] } })],
    },
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', URL: 'readonly' } },
    rules: {
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      '@typescript-eslint/no-explicit-any': 'off', // tests and row mapping read untyped JSON
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
      'no-empty': ['error', { allowEmptyCatch: true }],
    },
  },
  {
    files: ['src/**/*.ts'],
    rules: {
      // One place reads configuration: config.ts (and peer.ts, which builds a child's environment).
      'no-restricted-properties': ['error', { object: 'process', property: 'env', message: 'read configuration in src/config.ts only' }],
    },
  },
  { files: ['src/config.ts', 'src/channel/peer.ts'], rules: { 'no-restricted-properties': 'off' } },
  {
    files: ['src/names.ts', 'src/errors.ts', 'src/log.ts', 'src/version.ts'],
    rules: forbid([['../*', './*', '!./errors.js'], 'a leaf module imports nothing of cc-dm but errors.ts']),
  },
  {
    files: ['src/store/**/*.ts'],
    rules: forbid(
      [['**/bus/*', '**/bus/**/*', '**/wake/*', '**/channel/*', '**/cli/*', '**/console/*'], 'the store executes; it knows nothing of the parts above it'],
    ),
  },
  {
    files: ['src/wake/**/*.ts'],
    rules: forbid(
      [['**/bus/*', '**/bus/**/*', '**/channel/*', '**/cli/*', '**/console/*'], 'a doorbell knows nothing of the bus or the edges'],
      [STORE, 'wake may use the store\'s types only', true],
    ),
  },
  {
    files: ['src/bus/**/*.ts'],
    rules: forbid([['**/channel/*', '**/cli/*', '**/console/*'], 'the bus knows nothing of MCP, terminals or HTTP']),
  },
  {
    files: ['src/channel/**/*.ts'],
    rules: forbid(
      [STORE, 'edges reach the store only through the Bus and Session APIs'],
      [CORE, 'the bus core is private to src/bus/'],
      [['**/cli/*', '**/console/*'], 'the channel server is one edge; it does not use the others'],
    ),
  },
  {
    files: ['src/cli/**/*.ts'],
    rules: forbid(
      [STORE, 'edges reach the store only through the Bus API'],
      [CORE, 'the bus core is private to src/bus/'],
      [['**/channel/server.js', '**/channel/tools.js'], 'the CLI does not use the channel server\'s internals'],
    ),
  },
  {
    files: ['src/console/**/*.ts'],
    rules: forbid(
      [STORE, 'edges reach the store only through the Bus API'],
      [CORE, 'the bus core is private to src/bus/'],
      [['**/cli/*', '**/channel/*'], 'the console is one edge; it does not use the others'],
    ),
  },
);
