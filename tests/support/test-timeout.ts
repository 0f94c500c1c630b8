// Each jest project's test timeout (jest.config.js passes it as CME_TEST_TIMEOUT): jest-circus
// ignores a project's own `testTimeout` and would use 5 s everywhere.
declare const CME_TEST_TIMEOUT: number | undefined;

if (typeof CME_TEST_TIMEOUT === 'number') jest.setTimeout(CME_TEST_TIMEOUT);
