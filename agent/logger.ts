/**
 * JSON logs (pino) at the level of AWS_VPC_K8S_CNI_LOGLEVEL, on stdout unless a destination is
 * given. Timestamps come from the injected Clock so that a simulated run logs simulated time.
 */
import { pino, type DestinationStream, type Logger as PinoLogger } from 'pino';
import { systemClock, type Clock } from '../time/clock.js';
import { redactSecrets, redactText } from './redact.js';
import type { LogLevelName } from './config-schema.js';

export type Logger = PinoLogger;

export interface LoggerOptions {
  level: LogLevelName;
  /** Where the JSON lines go; stdout (synchronously, so a crash loses no line) when absent. */
  destination?: DestinationStream;
  clock?: Clock;
  /** Fields on every line, e.g. `{ node: 'ip-10-0-1-5' }`. */
  base?: Record<string, unknown>;
}

export function createLogger(options: LoggerOptions): Logger {
  const clock = options.clock ?? systemClock;
  const settings = {
    level: options.level,
    base: options.base ?? {},
    // "level":"info" rather than pino's numbers: the AWS VPC CNI's logs and most log queries use names.
    formatters: {
      level: (label: string) => ({ level: label }),
      // No credential in any line, whatever a caller or a library error put in the fields.
      log: (fields: Record<string, unknown>) => redactSecrets(fields) as Record<string, unknown>,
    },
    hooks: {
      logMethod(this: PinoLogger, args: Parameters<PinoLogger['info']>, method: PinoLogger['info']) {
        const redacted = args.map((a: unknown) => (typeof a === 'string' ? redactText(a) : a));
        method.apply(this, redacted as Parameters<PinoLogger['info']>);
      },
    },
    timestamp: () => `,"time":"${new Date(clock.now()).toISOString()}"`,
  };
  return options.destination
    ? pino(settings, options.destination)
    : pino(settings, pino.destination({ dest: 1, sync: true }));
}

/** A logger that drops everything, for tests and tools that have nowhere to log. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
