/**
 * Runs a CNI plugin with exactly the environment and stdin bytes given: nothing added, nothing
 * re-serialized, for fuzzing (test/peers/netns.ts runCniPlugin builds a well-formed call instead).
 */
import { spawn } from 'node:child_process';

/** A plugin that has not exited after this long is hung: the fuzz case fails. */
export const RAW_PLUGIN_TIMEOUT_MS = 30_000;

export interface RawOutcome {
  readonly exitCode: number | null;
  /** Set when the plugin was killed: by the timeout (a hang) or by a crash signal. */
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** stdout parsed as JSON, or undefined when it is empty or not JSON. */
  readonly json: unknown;
}

export function runPluginRaw(
  plugin: string,
  env: Readonly<Record<string, string>>,
  stdin: string,
): Promise<RawOutcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(plugin, [], {
      env: { PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: RAW_PLUGIN_TIMEOUT_MS,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    // A plugin may exit before reading all of stdin (VERSION does not read it): not an error here.
    child.stdin.on('error', () => undefined);
    child.once('error', reject);
    child.once('close', (exitCode, signal) => {
      resolve({ exitCode, signal, stdout, stderr, json: parseJson(stdout) });
    });
    child.stdin.end(stdin);
  });
}

function parseJson(text: string): unknown {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
