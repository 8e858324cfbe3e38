#!/usr/bin/env node
// Lints what npm would publish, not the working tree: packs each package (`npm pack`) and checks the tarball with
// publint (exports, files, types order, licence, ...) and arethetypeswrong (types resolve like the JS under
// node16 ESM and bundlers; profile esm-only: the packages are ESM only, so the node10 and require() rows do not
// apply), then this repository's own rules: the fields a published package needs, one version for the fixed
// changesets group, `^<version>` between our packages, and every package the shipped JS and .d.ts files import
// declared as a dependency (with its @types package when it ships no types).
//
// `node scripts/lint-packages.mjs` (part of `npm run lint`) packs into a temp dir; test/packaging/install.test.ts
// imports `lintTarballs` and runs it on the tarballs it installs, so `npm test` checks the same thing.
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../', import.meta.url));
/** The published packages, in dependency order. */
export const PACKAGE_DIRS = ['packages/ring', 'packages/protocol', 'packages/client', 'packages/node-agent', 'simulations'];
const REQUIRED_FILES = ['package.json', 'README.md', 'LICENSE', 'CHANGELOG.md'];
const BUILTINS = new Set(builtinModules);
const require = createRequire(import.meta.url);

/**
 * The environment for a child npm: without what an enclosing `npm run` or `npm -w` exported (workspace, prefix,
 * the running package's fields), which would point the child at another package; registry and cache settings stay.
 */
export function npmEnv() {
  const inherited = /^(npm_package_|npm_lifecycle_|npm_config_(workspaces?|include_workspace_root|prefix|local_prefix|global)$)/i;
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !inherited.test(k) && k !== 'INIT_CWD'));
}

/**
 * `npm pack` every package into `dest`; resolves to one record per package.
 * @returns {{ dir: string, name: string, version: string, tarball: string, files: string[] }[]}
 */
export function packAll(dest) {
  mkdirSync(dest, { recursive: true });
  return PACKAGE_DIRS.map((dir) => {
    const r = spawnSync('npm', ['pack', '--json', '--pack-destination', dest], { cwd: join(ROOT, dir), env: npmEnv(), encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`npm pack ${dir} failed (exit ${r.status}): ${r.stderr}`);
    const [info] = JSON.parse(r.stdout);
    return { dir, name: info.name, version: info.version, tarball: join(dest, info.filename), files: info.files.map((f) => f.path) };
  });
}

/** Problems found in the packed packages; an empty list means all pass. */
export async function lintTarballs(packs) {
  const problems = [];
  const versions = new Set(packs.map((p) => p.version));
  if (versions.size !== 1) problems.push(`versions differ (${[...versions].join(', ')}): the changesets group is fixed, one version for all`);
  const ours = new Map(packs.map((p) => [p.name, p.version]));
  // arethetypeswrong runs in its own processes, all packages at once (it spends its time loading TypeScript).
  const attw = await Promise.all(packs.map(attwProblems));
  for (const [i, pack] of packs.entries()) {
    const say = (line) => problems.push(`${pack.name}: ${line}`);
    (await publintProblems(pack)).forEach(say);
    attw[i].forEach(say);
    manifestProblems(pack, ours).forEach(say);
    importProblems(pack).forEach(say);
  }
  return problems;
}

async function publintProblems(pack) {
  const { publint } = await import('publint');
  const { formatMessage } = await import('publint/utils');
  const data = readFileSync(pack.tarball);
  const tarball = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength);
  const { messages, pkg } = await publint({ pack: { tarball }, level: 'suggestion', strict: true });
  return messages.map((m) => `publint ${m.type} ${m.code}: ${formatMessage(m, pkg, { color: false })}`);
}

function attwProblems(pack) {
  const attw = join(dirname(require.resolve('@arethetypeswrong/cli/package.json')), 'dist/index.js');
  const args = [attw, pack.tarball, '--profile', 'esm-only', '--format', 'ascii', '--no-color'];
  return new Promise((resolve) => {
    execFile(process.execPath, args, { encoding: 'utf8' }, (error, stdout, stderr) => {
      resolve(error ? [`arethetypeswrong (profile esm-only) failed:\n${stdout}${stderr}`] : []);
    });
  });
}

function manifestProblems(pack, ours) {
  const out = [];
  const pkg = JSON.parse(readFileSync(join(ROOT, pack.dir, 'package.json'), 'utf8'));
  if (pkg.private) out.push('is private');
  if (pkg.license !== 'MIT') out.push(`license is ${pkg.license}, not MIT`);
  if (pkg.engines?.node !== '>=20') out.push(`engines.node is ${pkg.engines?.node}, not >=20`);
  if (pkg.type !== 'module') out.push('type is not module');
  if (pkg.publishConfig?.access !== 'public') out.push('publishConfig.access is not public (a scoped package is private by default)');
  if (pkg.repository?.directory !== pack.dir) out.push(`repository.directory is ${pkg.repository?.directory}, not ${pack.dir}`);
  for (const field of ['description', 'homepage', 'bugs', 'keywords']) if (!pkg[field]) out.push(`no ${field}`);
  for (const file of REQUIRED_FILES) if (!pack.files.includes(file)) out.push(`tarball lacks ${file}`);
  const stray = pack.files.filter((f) => /(^|\/)(tests?|__tests__)\/|\.test\.[jt]s$|tsbuildinfo$/.test(f));
  if (stray.length) out.push(`tarball ships test files: ${stray.slice(0, 5).join(', ')}`);
  for (const [name, range] of Object.entries({ ...pkg.dependencies, ...pkg.peerDependencies })) {
    if (ours.has(name) && range !== `^${ours.get(name)}`) out.push(`depends on ${name}@${range}, not ^${ours.get(name)}`);
  }
  return out;
}

/** Bare specifiers in `import ... from 'x'`, `export ... from 'x'`, `import 'x'`, `import('x')`. */
const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(?\s*)['"]([^'"\s]+)['"]/g;
const packageOf = (spec) => (spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]);

function importProblems(pack) {
  const out = [];
  const pkg = JSON.parse(readFileSync(join(ROOT, pack.dir, 'package.json'), 'utf8'));
  const declared = new Set([pack.name, ...Object.keys({ ...pkg.dependencies, ...pkg.peerDependencies, ...pkg.optionalDependencies })]);
  const missing = new Map();
  const untyped = new Set();
  for (const file of pack.files.filter((f) => /\.(m?js|d\.ts)$/.test(f))) {
    const text = readFileSync(join(ROOT, pack.dir, file), 'utf8');
    for (const [, spec] of text.matchAll(SPECIFIER)) {
      if (spec.startsWith('.') || spec.startsWith('node:') || BUILTINS.has(spec)) continue;
      const name = packageOf(spec);
      if (!declared.has(name)) missing.set(name, file);
      else if (file.endsWith('.d.ts') && name !== pack.name && !shipsTypes(name) && !declared.has(`@types/${name.replace('@', '').replace('/', '__')}`)) untyped.add(name);
    }
  }
  for (const [name, file] of missing) out.push(`${file} imports ${name}, which is not in dependencies or peerDependencies`);
  for (const name of untyped) out.push(`its .d.ts files import ${name}, which ships no types: add @types/${name} to dependencies`);
  return out;
}

/** Whether an installed package carries its own declarations. */
function shipsTypes(name) {
  const dir = join(ROOT, 'node_modules', name);
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  if (pkg.types || pkg.typings || existsSync(join(dir, 'index.d.ts'))) return true;
  return JSON.stringify(pkg.exports ?? {}).includes('"types"');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dest = mkdtempSync(join(tmpdir(), 'wsring-lint-packages-'));
  try {
    const packs = packAll(dest);
    const problems = await lintTarballs(packs);
    for (const line of problems) process.stderr.write(`lint-packages: ${line}\n`);
    if (problems.length) process.exit(1);
    process.stdout.write(`lint-packages: ${packs.map((p) => `${p.name}@${p.version}`).join(', ')}: publint, arethetypeswrong (esm-only), manifests and imports pass\n`);
  } finally {
    rmSync(dest, { recursive: true, force: true });
  }
}
