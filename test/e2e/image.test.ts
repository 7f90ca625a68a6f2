/**
 * The image, built for real by deploy/image/build-image.sh (mmdebstrap, the pinned Node.js, umoci)
 * and run with runc: `eni-ipam --version`, the plugin's CNI VERSION, the datapath tools, and the
 * init container's installer writing into directories that stand for the host's. Then the image is
 * held to the Dockerfile: the same files in the same places, entrypoint, user, workdir and labels.
 *
 * Needs the `image` peer (test/peers/install.sh image), root, and the registries Debian and npm.
 * The image's size is printed (goal: under 150 MB compressed).
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, posix } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SUPPORTED_CNI_VERSIONS } from '../../cni/spec.js';
import {
  AGENT_NODE_FLAGS,
  AGENT_PROCESS_ENV,
  BUNDLE_ENTRY_FILE,
  IMAGE_DIST_DIR,
} from '../../scripts/build-agent-bundle.js';
import { copies, parseDockerfile } from '../deploy/dockerfile.js';
import { DEPLOY_DIR, REPO_ROOT } from '../deploy/manifests.js';
import { requireOnPath } from '../peers/paths.js';

const BUILD_TIMEOUT_MS = 15 * 60_000;
const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };

interface OciConfig {
  config: {
    User?: string;
    WorkingDir?: string;
    Env?: string[];
    Entrypoint?: string[];
    Cmd?: string[];
    Labels?: Record<string, string>;
  };
}

interface RuntimeSpec {
  process: {
    terminal: boolean;
    user: { uid: number; gid: number };
    args: string[];
    env: string[];
    cwd: string;
  };
  root: { path: string; readonly?: boolean };
  mounts: { destination: string; type: string; source: string; options?: string[] }[];
}

let work: string;
let layout: string;
let bundle: string;
let baseSpec: RuntimeSpec;
let runs = 0;

function run(command: string, args: string[], input?: string): SpawnSyncReturns<string> {
  return spawnSync(command, args, { encoding: 'utf8', input: input ?? '', timeout: BUILD_TIMEOUT_MS });
}

function blob(digest: string): Buffer {
  return readFileSync(join(layout, 'blobs', ...digest.split(':')));
}

function manifest(): { config: { digest: string }; layers: { digest: string; size: number }[] } {
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as {
    manifests: { digest: string; annotations?: Record<string, string> }[];
  };
  const tagged = index.manifests.find(
    (m) => m.annotations?.['org.opencontainers.image.ref.name'] === pkg.version,
  );
  if (!tagged) throw new Error(`the image layout has no manifest tagged ${pkg.version}`);
  return JSON.parse(blob(tagged.digest).toString('utf8')) as ReturnType<typeof manifest>;
}

function imageConfig(): OciConfig {
  return JSON.parse(blob(manifest().config.digest).toString('utf8')) as OciConfig;
}

interface ContainerRun {
  args?: string[];
  env?: string[];
  root?: boolean;
  /** The root filesystem read-only, as the DaemonSet's readOnlyRootFilesystem makes it. */
  readOnlyRoot?: boolean;
  mounts?: { destination: string; source: string }[];
  stdin?: string;
}

/** Runs one container from the unpacked image with runc; the default process is the image's. */
function runContainer(options: ContainerRun = {}): { code: number | null; stdout: string; stderr: string } {
  const spec = structuredClone(baseSpec);
  spec.process.terminal = false;
  if (options.args) spec.process.args = options.args;
  spec.process.env = [...spec.process.env, ...(options.env ?? [])];
  if (options.root) spec.process.user = { uid: 0, gid: 0 };
  if (options.readOnlyRoot) spec.root.readonly = true;
  for (const m of options.mounts ?? []) {
    spec.mounts.push({
      destination: m.destination,
      type: 'bind',
      source: m.source,
      options: ['rbind', 'rw'],
    });
  }
  writeFileSync(join(bundle, 'config.json'), JSON.stringify(spec));
  const id = `eni-ipam-ship-${process.pid}-${++runs}`;
  const result = run('runc', ['run', '--bundle', bundle, id], options.stdin);
  spawnSync('runc', ['delete', '--force', id]);
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

beforeAll(() => {
  for (const tool of ['mmdebstrap', 'umoci', 'runc']) requireOnPath('image', tool);
  if (process.getuid?.() !== 0) throw new Error('the image test runs as root (mmdebstrap, runc)');
  work = mkdtempSync(join(tmpdir(), 'eni-ipam-ship-image-'));
  const built = run('bash', [join(DEPLOY_DIR, 'image', 'build-image.sh'), work]);
  if (built.status !== 0) {
    throw new Error(`build-image.sh failed (${String(built.status)}):\n${built.stderr.slice(-4000)}`);
  }
  layout = join(work, 'oci');
  bundle = join(work, 'bundle');
  const unpacked = run('umoci', ['unpack', '--image', `${layout}:${pkg.version}`, bundle]);
  if (unpacked.status !== 0) throw new Error(`umoci unpack failed: ${unpacked.stderr}`);
  baseSpec = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')) as RuntimeSpec;
  const layers = manifest().layers;
  const compressed = layers.reduce((sum, l) => sum + l.size, 0);
  const du = run('du', ['-sb', join(bundle, 'rootfs')]);
  const uncompressed = Number(du.stdout.split('\t')[0]);
  console.info(
    `image eni-ipam:${pkg.version}: ${layers.length} layers, ${(compressed / 1e6).toFixed(1)} MB compressed, ` +
      `${(uncompressed / 1e6).toFixed(1)} MB unpacked`,
  );
}, BUILD_TIMEOUT_MS);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the image, run with runc', () => {
  it("`eni-ipam --version` through the image's entrypoint prints package.json's version", () => {
    const config = imageConfig().config;
    const result = runContainer({ args: [...(config.Entrypoint ?? []), '--version'] });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`eni-ipam ${pkg.version}\n`);
  });

  it('runs as the non-root node user by default and prints the usage with no arguments', () => {
    const result = runContainer();
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Usage: eni-ipam <command>');
    const whoami = runContainer({ args: ['node', '-e', 'process.stdout.write(String(process.getuid()))'] });
    expect(whoami.stdout).toBe('1000');
  });

  it("the plugin executable answers CNI VERSION with the spec versions it speaks, without Node.js's help", () => {
    const result = runContainer({
      args: ['/opt/eni-ipam/cni/eni-ipam'],
      env: ['CNI_COMMAND=VERSION', 'PATH=/nonexistent'],
      stdin: '{"cniVersion":"1.0.0"}',
    });
    expect(result.code, result.stderr).toBe(0);
    const answer = JSON.parse(result.stdout) as { supportedVersions: string[] };
    expect(answer.supportedVersions).toEqual([...SUPPORTED_CNI_VERSIONS]);
  });

  it('has iproute2 and nftables for the datapath', () => {
    const ip = runContainer({ args: ['ip', '-V'] });
    expect(ip.code, ip.stderr).toBe(0);
    expect(ip.stdout).toMatch(/iproute2/);
    const nft = runContainer({ args: ['nft', '--version'] });
    expect(nft.code, nft.stderr).toBe(0);
    expect(nft.stdout).toMatch(/nftables v\d/);
  });

  it("the init container's installer puts the plugin and the conflist into the host's directories", () => {
    const host = join(work, 'host');
    const bin = join(host, 'opt-cni-bin');
    const net = join(host, 'etc-cni-net.d');
    mkdirSync(bin, { recursive: true });
    mkdirSync(net, { recursive: true });
    writeFileSync(join(net, '10-aws.conflist'), '{"cniVersion":"1.0.0","name":"aws-cni","plugins":[]}');
    const result = runContainer({
      args: ['/opt/eni-ipam/install-cni.sh'],
      root: true,
      env: ['DISABLE_CNI_CONFIGS=10-aws.conflist'],
      mounts: [
        { destination: '/host/opt/cni/bin', source: bin },
        { destination: '/host/etc/cni/net.d', source: net },
      ],
    });
    expect(result.code, result.stderr).toBe(0);
    expect(readdirSync(bin)).toEqual(['eni-ipam']);
    expect(statSync(join(bin, 'eni-ipam')).mode & 0o777).toBe(0o755);
    expect(readdirSync(net).sort()).toEqual(['10-aws.conflist.disabled-by-eni-ipam', '10-eni-ipam.conflist']);
    expect(readFileSync(join(net, '10-eni-ipam.conflist'), 'utf8')).toBe(
      readFileSync(join(DEPLOY_DIR, 'conflist', '10-eni-ipam.conflist'), 'utf8'),
    );
    // What landed on the "host" runs there, outside the image, as the container runtime will run it.
    const version = spawnSync(join(bin, 'eni-ipam'), [], {
      env: { CNI_COMMAND: 'VERSION' },
      input: '{"cniVersion":"1.0.0"}',
      encoding: 'utf8',
    });
    expect(version.status, version.stderr).toBe(0);
    expect(JSON.parse(version.stdout)).toMatchObject({ supportedVersions: [...SUPPORTED_CNI_VERSIONS] });
  });
});

describe('the image and the Dockerfile agree', () => {
  const dockerfile = parseDockerfile(readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8'));
  const final = dockerfile.stages.at(-1)!;
  const last = (keyword: string): string | undefined =>
    final.instructions.filter((i) => i.keyword === keyword).at(-1)?.args;

  it('same entrypoint, default arguments, user, working directory and NODE_ENV', () => {
    const config = imageConfig().config;
    expect(config.Entrypoint).toEqual(JSON.parse(last('ENTRYPOINT')!));
    expect(config.Cmd).toEqual(JSON.parse(last('CMD')!));
    expect(config.User).toBe(last('USER'));
    expect(config.WorkingDir).toBe(last('WORKDIR'));
    const env = final.instructions.filter((i) => i.keyword === 'ENV').flatMap((i) => i.args.split(/\s+/));
    expect(env.length).toBeGreaterThan(0);
    for (const pair of env) expect(config.Env).toContain(pair);
  });

  it('runs the bundle with the node flags and environment that `npm run bench` measures', () => {
    const config = imageConfig().config;
    expect(config.Entrypoint).toEqual([
      'node',
      ...AGENT_NODE_FLAGS,
      posix.join(IMAGE_DIST_DIR, 'bundle', BUNDLE_ENTRY_FILE),
    ]);
    for (const [name, value] of Object.entries(AGENT_PROCESS_ENV))
      expect(config.Env).toContain(`${name}=${value}`);
  });

  it('starts the agent from the bundle as root on a read-only root filesystem, as the DaemonSet runs it', () => {
    const config = imageConfig().config;
    // A bad setting stops the agent after its modules loaded, with the variable named.
    const result = runContainer({
      args: [...(config.Entrypoint ?? []), 'agent'],
      root: true,
      readOnlyRoot: true,
      env: ['MY_NODE_NAME=ip-10-0-1-5', 'WARM_IP_TARGET=lots'],
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('WARM_IP_TARGET');
  });

  it("same labels, with package.json's version", () => {
    const labels = final.instructions
      .filter((i) => i.keyword === 'LABEL')
      .flatMap((i) => i.args.split(/\s+/))
      .map((pair) => pair.split('='))
      .map(([key = '', value = '']) => [
        key,
        value.replace('${VERSION}', dockerfile.args.get('VERSION') ?? ''),
      ]);
    expect(imageConfig().config.Labels).toEqual(Object.fromEntries(labels));
    expect(imageConfig().config.Labels?.['org.opencontainers.image.version']).toBe(pkg.version);
  });

  it('every file the Dockerfile copies into the image is at the same place, and nothing more is in /app and /opt/eni-ipam', () => {
    const workdir = last('WORKDIR')!;
    const rootfs = join(bundle, 'rootfs');
    const destinations = copies(final).flatMap((c) =>
      c.sources.map((source) => {
        const dest = posix.isAbsolute(c.destination) ? c.destination : posix.join(workdir, c.destination);
        return c.destination.endsWith('/') ? posix.join(dest, basename(source)) : dest;
      }),
    );
    for (const path of destinations) expect(existsSync(join(rootfs, path)), path).toBe(true);
    const under = (dir: string): string[] =>
      destinations
        .filter((d) => posix.dirname(d) === dir)
        .map((d) => posix.basename(d))
        .sort();
    expect(readdirSync(join(rootfs, 'app')).sort()).toEqual(under('/app'));
    expect(readdirSync(join(rootfs, 'opt/eni-ipam')).sort()).toEqual(['cni', 'install-cni.sh']);
    expect(readdirSync(join(rootfs, 'opt/eni-ipam/cni'))).toEqual(under('/opt/eni-ipam/cni'));
    // The Dockerfile's node binary is the base image's /usr/local/bin/node.
    expect(existsSync(join(rootfs, 'usr/local/bin/node'))).toBe(true);
  });
});
