import type { BuildOptions, BuildResult } from 'esbuild';
export declare const FUNCTION_BUNDLE_OPTIONS: BuildOptions;
export declare const SOURCE_MAP_DIR: string;
export declare function buildFunctions(
  entryPoints: string[],
  dist: string,
  options?: BuildOptions,
): Promise<BuildResult>;
