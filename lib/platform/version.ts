// The version this deployment runs: package.json's, written into each function bundle by the build
// (esbuild `define`, scripts/function-bundle.mjs). Run from the sources (unit tests), it is `unbuilt`.
declare const __CME_VERSION__: string | undefined;

export const DEPLOYED_VERSION: string = typeof __CME_VERSION__ === 'string' ? __CME_VERSION__ : 'unbuilt';
