/**
 * Runs the kernel's tools (ip, nft) with a script on stdin and collects their output. The one place
 * the datapath starts processes, so their number can be counted and a test can replace it.
 */
import { spawn } from 'node:child_process';

export interface CommandResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export type CommandRunner = (
  command: string,
  args: readonly string[],
  stdin?: string,
) => Promise<CommandResult>;

/** A tool that hangs (a wedged netlink socket) must not hang the agent. */
const COMMAND_TIMEOUT_MS = 30_000;

export const spawnCommand: CommandRunner = (command, args, stdin) =>
  new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], timeout: COMMAND_TIMEOUT_MS });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.once('error', (err: NodeJS.ErrnoException) => {
      reject(
        new Error(
          `${command} could not be started: ${err.message}${err.code === 'ENOENT' ? ' (is it installed?)' : ''}`,
        ),
      );
    });
    child.once('close', (code, signal) => {
      if (signal !== null) reject(new Error(`${command} ${args.join(' ')} was killed by ${signal}`));
      else resolve({ code: code ?? 0, stdout, stderr });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(stdin ?? '');
  });
