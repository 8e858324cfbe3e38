// Shared by the ops suites: the repository's files, the built wsring-agent's --help, YAML documents.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const AGENT_BIN = join(ROOT, 'packages/node-agent/bin/wsring-agent.js');

export const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8');
export const list = (dir: string, ext: string): string[] =>
  readdirSync(join(ROOT, dir))
    .filter((f) => f.endsWith(ext))
    .sort()
    .map((f) => `${dir}/${f}`);

/** Every document of a YAML file, as plain data; parse errors throw. */
export function yamlDocuments(path: string): Record<string, unknown>[] {
  return parseAllDocuments(read(path)).map((doc) => {
    if (doc.errors.length) throw new Error(`${path}: ${doc.errors[0].message}`);
    return doc.toJS() as Record<string, unknown>;
  });
}

let help: string | undefined;
/** `wsring-agent --help` of the built CLI. */
export function agentHelp(): string {
  if (help === undefined) {
    const r = spawnSync(process.execPath, [AGENT_BIN, '--help'], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`wsring-agent --help exited ${r.status}: ${r.stderr}`);
    help = r.stdout;
  }
  return help;
}

/** The long flags `wsring-agent --help` lists (`--no-delivery`, `--version` included). */
export function agentFlags(): Set<string> {
  return new Set([...agentHelp().matchAll(/^\s+(?:-\w, )?(--[a-z][a-z0-9-]*)/gm)].map((m) => m[1]));
}

/** `WSRING_DRAIN_DEADLINE_MS` -> `--drain-deadline-ms`; WSRING_CONFIG -> `--config`. */
export const flagOfEnv = (name: string): string => `--${name.slice('WSRING_'.length).toLowerCase().replace(/_/g, '-')}`;

/** Whether a command-line program is installed. */
export const installed = (program: string): boolean => spawnSync('sh', ['-c', `command -v ${program}`]).status === 0;
