import type { QueryParams } from '../query-protocol.js';
import type { SimState } from '../state.js';

export interface ActionContext {
  readonly state: SimState;
  readonly params: QueryParams;
}

/** One EC2 action: reads its parameters, acts on the state, returns the response body's children. */
export type ActionHandler = (context: ActionContext) => string;
