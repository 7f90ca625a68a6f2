/**
 * deploy/image/install-cni.sh, the init container's installer, run for real against temporary
 * directories standing for the host's /opt/cni/bin and /etc/cni/net.d.
 */
import { spawnSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEPLOY_DIR } from './manifests.js';

const SCRIPT = join(DEPLOY_DIR, 'image', 'install-cni.sh');
const CONFLIST = join(DEPLOY_DIR, 'conflist', '10-eni-ipam.conflist');

let root: string;
let bin: string;
let net: string;
let plugin: string;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'eni-ipam-install-'));
  bin = join(root, 'opt-cni-bin');
  net = join(root, 'etc-cni-net.d');
  mkdirSync(bin);
  mkdirSync(net);
  plugin = join(root, 'eni-ipam');
  writeFileSync(plugin, '#!/bin/sh\necho new plugin\n', { mode: 0o644 });
});

afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

function install(extra: Record<string, string> = {}): { status: number | null; stderr: string } {
  const result = spawnSync('sh', [SCRIPT], {
    env: {
      PATH: process.env['PATH'] ?? '/usr/bin:/bin',
      CNI_BIN_DIR: bin,
      CNI_NET_DIR: net,
      PLUGIN_SOURCE: plugin,
      CONFLIST_SOURCE: CONFLIST,
      ...extra,
    },
    encoding: 'utf8',
  });
  return { status: result.status, stderr: result.stderr };
}

const mode = (path: string): number => statSync(path).mode & 0o777;

describe('install-cni.sh', () => {
  it('installs the executable and the conflist, and leaves no temporary file', () => {
    const result = install();
    expect(result.status, result.stderr).toBe(0);
    expect(readFileSync(join(bin, 'eni-ipam'), 'utf8')).toBe(readFileSync(plugin, 'utf8'));
    expect(mode(join(bin, 'eni-ipam'))).toBe(0o755);
    expect(readFileSync(join(net, '10-eni-ipam.conflist'), 'utf8')).toBe(readFileSync(CONFLIST, 'utf8'));
    expect(mode(join(net, '10-eni-ipam.conflist'))).toBe(0o644);
    expect(readdirSync(bin)).toEqual(['eni-ipam']);
    expect(readdirSync(net)).toEqual(['10-eni-ipam.conflist']);
  });

  it('replaces files by rename: a reader of the old file keeps reading the old file', () => {
    const target = join(bin, 'eni-ipam');
    writeFileSync(target, 'old plugin, being executed\n', { mode: 0o755 });
    const before = statSync(target).ino;
    const fd = openSync(target, 'r');
    try {
      const result = install();
      expect(result.status, result.stderr).toBe(0);
      expect(statSync(target).ino).not.toBe(before);
      const buffer = Buffer.alloc(64);
      const n = readSync(fd, buffer, 0, buffer.length, 0);
      expect(buffer.subarray(0, n).toString('utf8')).toBe('old plugin, being executed\n');
    } finally {
      closeSync(fd);
    }
    expect(readFileSync(target, 'utf8')).toBe(readFileSync(plugin, 'utf8'));
  });

  it("moves aside the configs it is told to, so that the runtime picks eni-ipam's", () => {
    writeFileSync(join(net, '10-aws.conflist'), '{"name":"aws-cni"}');
    writeFileSync(join(net, '05-other.conflist'), '{"name":"other"}');
    const result = install({ DISABLE_CNI_CONFIGS: '10-aws.conflist 99-absent.conflist' });
    expect(result.status, result.stderr).toBe(0);
    expect(readdirSync(net).sort()).toEqual([
      '05-other.conflist',
      '10-aws.conflist.disabled-by-eni-ipam',
      '10-eni-ipam.conflist',
    ]);
    // The runtime loads *.conf, *.conflist and *.json only, first in lexical order.
    const loaded = readdirSync(net)
      .filter((f) => /\.(conflist|conf|json)$/.test(f))
      .sort();
    expect(loaded).toEqual(['05-other.conflist', '10-eni-ipam.conflist']);
  });

  it('touches no other config when told nothing', () => {
    writeFileSync(join(net, '10-aws.conflist'), '{"name":"aws-cni"}');
    expect(install().status).toBe(0);
    expect(readdirSync(net).sort()).toEqual(['10-aws.conflist', '10-eni-ipam.conflist']);
  });

  it('fails without touching the host when the executable is missing', () => {
    writeFileSync(join(bin, 'eni-ipam'), 'old');
    rmSync(plugin);
    const result = install();
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('missing');
    expect(readdirSync(bin)).toEqual(['eni-ipam']);
    expect(readFileSync(join(bin, 'eni-ipam'), 'utf8')).toBe('old');
    expect(readdirSync(net)).toEqual([]);
  });

  it('refuses a conflist that is not a JSON object, keeping the installed one', () => {
    writeFileSync(join(net, '10-eni-ipam.conflist'), '{"previous":true}');
    const broken = join(root, '10-eni-ipam.conflist');
    writeFileSync(broken, 'not json');
    const result = install({ CONFLIST_SOURCE: broken });
    expect(result.status).not.toBe(0);
    expect(readFileSync(join(net, '10-eni-ipam.conflist'), 'utf8')).toBe('{"previous":true}');
    expect(readdirSync(net)).toEqual(['10-eni-ipam.conflist']);
  });

  it('fails clearly when a host directory is not mounted', () => {
    const result = install({ CNI_NET_DIR: join(root, 'absent') });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('is the hostPath mounted?');
    expect(existsSync(join(root, 'absent'))).toBe(false);
  });
});
