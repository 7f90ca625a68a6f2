/**
 * A promise rejected with nobody listening ends a Node process by default. In the agent that is
 * always a bug (every expected failure is handled where it happens), and ending the process for it
 * would let one bad request or one stray timer stop a node's address management: log it, count it
 * (awscni_ipamd_error_count{fn="unhandled_rejection"}) and keep serving.
 */
import type { Logger } from './logger.js';

export function guardUnhandledRejections(logger: Pick<Logger, 'error'>, count: () => void): () => void {
  const onRejection = (reason: unknown): void => {
    count();
    logger.error(
      { err: reason instanceof Error ? (reason.stack ?? reason.message) : String(reason) },
      'unhandled promise rejection (a bug); the agent keeps running',
    );
  };
  process.on('unhandledRejection', onRejection);
  return () => {
    process.off('unhandledRejection', onRejection);
  };
}
