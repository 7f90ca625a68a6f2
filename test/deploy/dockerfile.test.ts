/**
 * The Dockerfile, checked statically: no Docker engine runs where the tests do. What a build would
 * catch late (a COPY of a missing or ignored file, dev dependencies in the image, a floating base
 * image) is caught here.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, posix } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PLUGIN_NAME } from '../../scripts/build-cni-plugin.js';
import {
  AGENT_NODE_FLAGS,
  AGENT_PROCESS_ENV,
  BUNDLE_ENTRY_FILE,
  IMAGE_DIST_DIR,
} from '../../scripts/build-agent-bundle.js';
import { copies, parseDockerfile, type Stage } from './dockerfile.js';
import { REPO_ROOT, parseYamlFile } from './manifests.js';

const dockerfile = parseDockerfile(readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8'));
const final = dockerfile.stages.at(-1)!;
const stageNamed = (name: string): Stage | undefined => dockerfile.stages.find((s) => s.name === name);
const runs = (stage: Stage): string[] =>
  stage.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args);

/**
 * Whether .dockerignore keeps `path` out of the build context. Understands the patterns this
 * repository uses (`**`, `dir/**`, a file name, each optionally negated with `!`); any other
 * pattern fails the test rather than being misread.
 */
function ignoredByDockerignore(path: string): boolean {
  const lines = readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  let ignored = false;
  for (const line of lines) {
    const negated = line.startsWith('!');
    const pattern = negated ? line.slice(1) : line;
    let matches: boolean;
    if (pattern === '**') matches = true;
    else if (pattern.endsWith('/**')) matches = path.startsWith(pattern.slice(0, -2));
    else if (/^[\w.\-/]+$/.test(pattern)) matches = path === pattern || path.startsWith(`${pattern}/`);
    else throw new Error(`.dockerignore pattern not understood by this test: ${line}`);
    if (matches) ignored = !negated;
  }
  return ignored;
}

function filesUnder(dir: string): string[] {
  const full = join(REPO_ROOT, dir);
  if (!statSync(full).isDirectory()) return [dir];
  return readdirSync(full, { recursive: true, encoding: 'utf8' })
    .map((f) => `${dir}/${f}`)
    .filter((f) => statSync(join(REPO_ROOT, f)).isFile());
}

describe('Dockerfile', () => {
  it("builds in stages from one base: the project's pinned Node LTS (.node-version), exactly", () => {
    expect(dockerfile.stages.length).toBeGreaterThanOrEqual(3);
    const bases = new Set(dockerfile.stages.map((s) => s.base));
    expect(bases.size).toBe(1);
    const pinned = readFileSync(join(REPO_ROOT, '.node-version'), 'utf8').trim();
    // An exact x.y.z tag, optionally with a variant and a digest: never `node:24` or `latest`.
    const escaped = pinned.replaceAll('.', '\\.');
    expect([...bases][0]).toMatch(new RegExp(`^node:${escaped}(-[a-z]+)*(@sha256:[0-9a-f]{64})?$`));
    // The local toolchain is what the tests and the plugin build were checked with.
    expect(process.version).toBe(`v${pinned}`);
  });

  it('installs from the lock file, and only production dependencies for the image', () => {
    for (const stage of dockerfile.stages) {
      for (const run of runs(stage)) expect(run, run).not.toMatch(/npm (install|i)\b/);
    }
    const modulesCopy = copies(final).find((c) => c.destination.includes('node_modules'));
    expect(modulesCopy?.from).toBeDefined();
    const source = stageNamed(modulesCopy!.from!)!;
    expect(runs(source).some((r) => /npm ci\b.*--omit=dev/.test(r))).toBe(true);
    expect(runs(source).some((r) => /npm ci\b(?!.*--omit=dev)/.test(r))).toBe(false);
    expect(runs(final).some((r) => r.includes('npm ci'))).toBe(false);
  });

  it('ships the plugin executable the build stage makes and the install script the DaemonSet runs', () => {
    const build = stageNamed('build')!;
    expect(runs(build).some((r) => r.includes('dist/scripts/build-cni-plugin.js'))).toBe(true);
    const plugin = copies(final).find((c) => c.destination === `/opt/eni-ipam/cni/${PLUGIN_NAME}`);
    expect(plugin?.from).toBe('build');
    expect(plugin?.sources).toEqual([`/out/cni/${PLUGIN_NAME}`]);
    expect(copies(final).map((c) => c.destination)).toContain('/opt/eni-ipam/install-cni.sh');
  });

  it('copies only files that exist and that .dockerignore lets into the context', () => {
    const local = dockerfile.stages.flatMap(copies).filter((c) => c.from === undefined);
    expect(local.length).toBeGreaterThan(0);
    for (const copy of local) {
      for (const source of copy.sources) {
        expect(existsSync(join(REPO_ROOT, source)), source).toBe(true);
        for (const file of filesUnder(source)) expect(ignoredByDockerignore(file), file).toBe(false);
      }
    }
    expect(ignoredByDockerignore('node_modules/zod/package.json')).toBe(true);
    expect(ignoredByDockerignore('dist/cli/main.js')).toBe(true);
  });

  it('copies every source folder the build compiles, except the benchmarks', () => {
    const build = parseYamlFile(join(REPO_ROOT, 'tsconfig.build.json'))[0] as { include: string[] };
    const copied = new Set(copies(stageNamed('build')!).flatMap((c) => c.sources));
    const missing = build.include.filter((dir) => !copied.has(dir));
    expect(missing).toEqual(['bench']);
    // The image need not build bench/ as long as nothing it ships imports from it.
    for (const dir of copied) {
      if (!statSync(join(REPO_ROOT, dir)).isDirectory()) continue;
      for (const file of filesUnder(dir).filter((f) => f.endsWith('.ts'))) {
        expect(readFileSync(join(REPO_ROOT, file), 'utf8'), file).not.toMatch(/from '(\.\.\/)+bench\//);
      }
    }
  });

  it('runs the eni-ipam command as a non-root user by default', () => {
    const users = final.instructions.filter((i) => i.keyword === 'USER').map((i) => i.args);
    expect(users.length).toBeGreaterThan(0);
    expect(users.at(-1)).not.toMatch(/^(0|root)(:|$)/);
  });

  it('runs the eni-ipam command from its bundle as `npm run bench` measures it: same node flags and environment', () => {
    const entrypoint = final.instructions.find((i) => i.keyword === 'ENTRYPOINT')!;
    expect(JSON.parse(entrypoint.args)).toEqual([
      'node',
      ...AGENT_NODE_FLAGS,
      posix.join(IMAGE_DIST_DIR, 'bundle', BUNDLE_ENTRY_FILE),
    ]);
    const env = final.instructions.filter((i) => i.keyword === 'ENV').flatMap((i) => i.args.split(/\s+/));
    for (const [name, value] of Object.entries(AGENT_PROCESS_ENV)) expect(env).toContain(`${name}=${value}`);
    expect(env.some((pair) => pair.startsWith('NODE_COMPILE_CACHE='))).toBe(false);
  });
});

describe('Dockerfile version and datapath tools', () => {
  it("labels the image with package.json's version", () => {
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(dockerfile.args.get('VERSION')).toBe(pkg.version);
    const labels = final.instructions
      .filter((i) => i.keyword === 'LABEL')
      .map((i) => i.args)
      .join(' ');
    expect(labels).toContain('org.opencontainers.image.version=${VERSION}');
    expect(final.instructions.some((i) => i.keyword === 'ARG' && i.args === 'VERSION')).toBe(true);
  });

  it('installs iproute2 and nftables in the final image, as build-image.sh does', () => {
    const install = runs(final).find((r) => r.includes('apt-get install'));
    expect(install).toMatch(/\biproute2\b/);
    expect(install).toMatch(/\bnftables\b/);
    const script = readFileSync(join(REPO_ROOT, 'deploy/image/build-image.sh'), 'utf8');
    expect(script).toMatch(/^packages=\(.*\biproute2\b.*\bnftables\b.*\)$/m);
  });
});
