// Four suites: unit (no server), and the three that start a sandbox + twilio-run stack. `npm test`
// runs them all in band so stacks never compete for the machine's cores.
const transform = { '^.+\\.(t|j)s$': ['@swc/jest'] };
// jest-circus reads testTimeout from the global config only (a project's is ignored): each project
// passes its own through a global and tests/support/test-timeout.ts sets it.
const project = (name, testTimeout) => ({
  displayName: name,
  testEnvironment: 'node',
  transform,
  roots: [`<rootDir>/tests/${name}`],
  globals: { CME_TEST_TIMEOUT: testTimeout },
  setupFilesAfterEnv: ['<rootDir>/tests/support/test-timeout.ts'],
});

/** @type {import('jest').Config} */
module.exports = {
  projects: [
    project('unit', 10_000),
    project('integration', 60_000),
    project('trust', 120_000),
    project('browser', 60_000),
  ],
};
