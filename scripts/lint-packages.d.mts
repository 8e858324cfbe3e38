// Declarations of scripts/lint-packages.mjs for the TypeScript tests that import it.
export interface Pack {
  /** Workspace folder, e.g. `packages/ring`. */
  dir: string;
  name: string;
  version: string;
  /** Absolute path of the packed .tgz. */
  tarball: string;
  /** Paths inside the tarball, as `npm pack --json` lists them. */
  files: string[];
}
export const ROOT: string;
export const PACKAGE_DIRS: string[];
export function npmEnv(): NodeJS.ProcessEnv;
export function packAll(dest: string): Pack[];
export function lintTarballs(packs: Pack[]): Promise<string[]>;
