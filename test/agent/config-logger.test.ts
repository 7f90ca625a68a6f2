import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../agent/config.js';
import { createLogger } from '../../agent/logger.js';
import { ManualClock } from '../../time/manual-clock.js';

function capture(): { lines: Record<string, unknown>[]; write(chunk: string): void } {
  const lines: Record<string, unknown>[] = [];
  return {
    lines,
    write(chunk: string) {
      for (const line of chunk.split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
    },
  };
}

describe('logger at the level of AWS_VPC_K8S_CNI_LOGLEVEL', () => {
  it.each([
    ['DEBUG', ['debug', 'info', 'warn', 'error']],
    ['INFO', ['info', 'warn', 'error']],
    ['Warn', ['warn', 'error']],
    ['ERROR', ['error']],
  ])('%s writes %j', (level, expected) => {
    const config = loadConfig({ MY_NODE_NAME: 'n', AWS_VPC_K8S_CNI_LOGLEVEL: level });
    const out = capture();
    const log = createLogger({ level: config.logLevel, destination: out });
    log.debug('d');
    log.info('i');
    log.warn('w');
    log.error('e');
    expect(out.lines.map((l) => l.level)).toEqual(expected);
  });

  it('writes JSON lines with the level name, the clock time and the base fields', () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 2, 3, 4, 5));
    const out = capture();
    const log = createLogger({ level: 'info', destination: out, clock, base: { node: 'n1' } });
    log.info({ eni: 'eni-1' }, 'attached');
    expect(out.lines).toEqual([
      { level: 'info', time: '2026-01-02T03:04:05.000Z', node: 'n1', eni: 'eni-1', msg: 'attached' },
    ]);
  });
});
