import type { BuildOptions } from 'esbuild';
export declare const FUNCTION_BUNDLE_OPTIONS: BuildOptions;
