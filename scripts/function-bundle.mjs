// How every Function is bundled (the build, and the benchmark's extra functions): one
// self-contained CommonJS file for Node 20+, `twilio` left to the Functions runtime.
export const FUNCTION_BUNDLE_OPTIONS = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  external: ['twilio', 'twilio/*'],
  minifySyntax: true,
  legalComments: 'none',
  logLevel: 'warning',
};
