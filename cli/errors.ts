/** cli/'s members of the error family (ipam/errors.ts): what an operator typed cannot be used. */
import { EniIpamError } from '../ipam/errors.js';

/** A command-line flag or combination of flags the command cannot use; the message says which. */
export class UsageError extends EniIpamError {
  override readonly name = 'UsageError';
  readonly code = 'ERR_USAGE' as const;
}

/** An `eni-ipam plan` input document with problems; `problems` names every bad field. */
export class PlanInputError extends EniIpamError {
  readonly code = 'ERR_PLAN_INPUT' as const;
  override readonly name = 'PlanInputError';

  constructor(readonly problems: readonly string[]) {
    super(problems.join('\n'));
  }
}
