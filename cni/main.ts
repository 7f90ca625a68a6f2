#!/usr/bin/env node
/**
 * /opt/cni/bin/eni-ipam: the CNI IPAM plugin the container runtime runs for every pod. It only
 * wires the real process (env, stdin, stdout, exit code) to runPlugin, and imports nothing but
 * node: builtins and its own small modules so that it starts in tens of milliseconds.
 *
 * As shipped (scripts/build-cni-plugin.ts) it is a single executable whose V8 start-up snapshot
 * already holds these modules loaded: the build runs this file once to take the snapshot, and
 * each execution starts from it in `start`, so no module is parsed or evaluated per pod.
 */
import { startupSnapshot } from 'node:v8';
import { systemClock } from '../time/clock.js';
import { runPlugin, type PluginOutput } from './plugin.js';
import { MAX_MESSAGE_BYTES } from './protocol.js';
import { CniCode, CniError, LATEST_CNI_VERSION } from './spec.js';
import { STDIN_TIMEOUT_MS } from './timeouts.js';

/** A network config with a prevResult is a few KiB; four times the socket bound is plenty. */
const MAX_STDIN_BYTES = 4 * MAX_MESSAGE_BYTES;

function readStdin(): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = (err: CniError): void => {
      timer.cancel();
      process.stdin.destroy();
      reject(err);
    };
    const timer = systemClock.setTimer(STDIN_TIMEOUT_MS, () => {
      stop(new CniError(CniCode.decodingFailure, `stdin was not closed within ${STDIN_TIMEOUT_MS} ms`));
    });
    process.stdin.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_STDIN_BYTES) {
        stop(
          new CniError(
            CniCode.decodingFailure,
            `network configuration is larger than ${MAX_STDIN_BYTES} bytes`,
          ),
        );
        return;
      }
      chunks.push(chunk);
    });
    process.stdin.on('end', () => {
      timer.cancel();
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
    process.stdin.on('error', (err) => {
      stop(new CniError(CniCode.ioFailure, 'cannot read stdin', err.message));
    });
  });
}

function emit(out: PluginOutput): void {
  if (out.stderr !== '') process.stderr.write(out.stderr);
  // Exit explicitly once stdout is flushed: a leftover handle must never keep the runtime waiting.
  process.stdout.write(out.stdout, () => process.exit(out.exitCode));
}

function crash(err: unknown): void {
  const msg = err instanceof Error ? err.message : String(err);
  const body = {
    cniVersion: LATEST_CNI_VERSION,
    code: CniCode.internal,
    msg: 'eni-ipam plugin internal error',
    details: msg,
  };
  emit({ stdout: `${JSON.stringify(body)}\n`, exitCode: 1, stderr: '' });
}

function start(): void {
  process.on('uncaughtException', crash);
  runPlugin({ env: process.env, readStdin, clock: systemClock }).then(emit, crash);
}

// Taking the snapshot must not run the plugin: it runs in each process started from it.
if (startupSnapshot.isBuildingSnapshot()) startupSnapshot.setDeserializeMainFunction(start);
else start();
