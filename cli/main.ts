#!/usr/bin/env node
/**
 * `eni-ipam`: one executable, several subcommands. Each subcommand lives in its own module, loaded
 * only when asked for: `eni-ipam max-pods` must not pay for the AWS SDK or the Kubernetes client
 * that `eni-ipam agent` needs, so this file imports nothing but Node built-ins (and the version,
 * a constant).
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { VERSION } from '../agent/build-info.js';

/** What a subcommand module exports: run with the arguments after its name, resolve to the exit code. */
export interface SubcommandModule {
  run(argv: string[]): Promise<number>;
}

export interface Subcommand {
  /** One line for `eni-ipam --help`. */
  summary: string;
  load: () => Promise<SubcommandModule>;
}

/** Add a subcommand with one line here. */
export const SUBCOMMANDS: Readonly<Record<string, Subcommand>> = {
  'max-pods': {
    summary: 'max pods for an instance type (secondary IPs or /28 prefixes)',
    load: () => import('./max-pods.js'),
  },
  plan: {
    summary: 'what the warm-pool planner decides for a node described as JSON on stdin',
    load: () => import('./plan.js'),
  },
  agent: {
    summary: 'run the node agent (configured by environment variables)',
    load: () => import('../agent/main.js'),
  },
  status: { summary: "the node agent's ENIs, pods and subnets", load: () => import('./status.js') },
  simulate: { summary: 'run a scenario on the simulated EC2', load: () => import('./simulate.js') },
  demo: { summary: 'one simulated node under pod churn (npm start)', load: () => import('./demo.js') },
};

export function usage(): string {
  const width = Math.max(...Object.keys(SUBCOMMANDS).map((name) => name.length));
  const lines = Object.entries(SUBCOMMANDS).map(([name, cmd]) => `  ${name.padEnd(width)}  ${cmd.summary}`);
  return `Usage: eni-ipam <command> [options]
       eni-ipam --version

Commands:
${lines.join('\n')}

Run "eni-ipam <command> --help" for a command's options.
`;
}

export interface DispatchIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

const processIo: DispatchIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

/** Runs the subcommand named by argv[0]; resolves to the process exit code (2: usage error). */
export async function dispatch(argv: readonly string[], io: DispatchIo = processIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--help' || name === '-h' || name === 'help') {
    io.stdout(usage());
    return 0;
  }
  if (name === '--version' || name === 'version') {
    io.stdout(`eni-ipam ${VERSION}\n`);
    return 0;
  }
  if (name === undefined) {
    io.stderr(usage());
    return 2;
  }
  const command = Object.hasOwn(SUBCOMMANDS, name) ? SUBCOMMANDS[name] : undefined;
  if (command === undefined) {
    io.stderr(`eni-ipam: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  try {
    const module = await command.load();
    return await module.run(rest);
  } catch (err) {
    io.stderr(`eni-ipam ${name}: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

/** True when this file is the program (run as `eni-ipam`, through npm's bin link, or by `node`). */
function invokedDirectly(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (invokedDirectly()) {
  // exitCode rather than exit(): let stdout drain when it is a pipe.
  process.exitCode = await dispatch(process.argv.slice(2));
}
