// Who may import whom (lib/README.md draws it). Each rule is a regular expression over the import
// specifier as written; every import in this project is relative, so a folder is matched by name.
// tests/unit/layer-rules.test.ts lints deliberately wrong imports with these rules to prove they bite.

/** lib/ never reaches outside itself: the functions' core runs the same locally and on Twilio. */
const OUTSIDE_LIB = {
  regex: '^(\\.\\./)+(sandbox|functions|scripts|tests|testing|bench|client|assets)(/|$)',
  message: 'lib/ never imports sandbox/, functions/, scripts/, tests/, testing/, bench/, client/ or assets/.',
};

const restrict = (files, patterns) => ({
  files,
  rules: { 'no-restricted-imports': ['error', { patterns }] },
});

export const layerRules = [
  // The pages run in a browser: only the pure shared modules, never Node-only code or the sandbox.
  restrict(
    ['assets/**/*.ts'],
    [
      { regex: '(^|/)lib/(?!shared/)', message: 'assets/ imports only lib/shared (pure modules).' },
      { regex: '(^|/)(sandbox|functions|scripts|tests|testing|bench)(/|$)', message: 'assets/ never imports these.' },
    ],
  ),
  // A function is parse → route → respond: the wrapper and its route, nothing else of lib.
  restrict(
    ['functions/**/*.ts'],
    [
      {
        regex: '^\\.\\./lib/(?!http/function-handler$|routes/)',
        message: 'functions/ import only lib/http/function-handler and lib/routes/*.',
      },
      { regex: '^\\.\\./(?!lib/)', message: 'functions/ import only lib/ (never sandbox/, scripts/, tests/).' },
    ],
  ),
  restrict(['lib/**/*.ts'], [OUTSIDE_LIB]),
  // Pure modules shared with the pages and the client: nothing else of lib, no Node, no twilio.
  restrict(
    ['lib/shared/**/*.ts'],
    [
      OUTSIDE_LIB,
      { regex: '^\\.\\./', message: 'lib/shared imports only lib/shared.' },
      { regex: '^(node:|twilio$|twilio/)', message: 'lib/shared runs in browsers too: no Node or twilio imports.' },
    ],
  ),
  // The platform seam (config, the Twilio client, retries, logging) builds on shared only.
  restrict(
    ['lib/platform/**/*.ts'],
    [OUTSIDE_LIB, { regex: '^\\.\\./(?!shared/|platform/)', message: 'lib/platform imports only lib/shared.' }],
  ),
  // The domain and the store never know about HTTP: no status codes chosen, no route context.
  restrict(
    ['lib/store/**/*.ts', 'lib/auth/**/*.ts', 'lib/calls/**/*.ts', 'lib/messages/**/*.ts', 'lib/forwarding/**/*.ts'],
    [OUTSIDE_LIB, { regex: '^\\.\\./(http|routes)(/|$)', message: 'The core never imports lib/http or lib/routes.' }],
  ),
  restrict(
    ['lib/http/**/*.ts'],
    [OUTSIDE_LIB, { regex: '^\\.\\./routes(/|$)', message: 'lib/http never imports lib/routes.' }],
  ),
  // The client is a package of its own (client/package.json): Node's built-ins and its own files only.
  restrict(
    ['client/**/*.ts'],
    [
      {
        regex: '^(?!node:|\\./)',
        message: 'client/ imports only node: built-ins and its own files: it is installed without this repository.',
      },
    ],
  ),
  // The sandbox is a stand-in for Twilio: it may use lib/shared's helpers, never the functions' core.
  restrict(
    ['sandbox/**/*.ts'],
    [
      { regex: '(^|/)lib/(?!shared/)', message: 'sandbox/ imports only lib/shared.' },
      { regex: '(^|/)functions(/|$)', message: 'sandbox/ never imports functions/.' },
    ],
  ),
];
