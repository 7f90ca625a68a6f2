/**
 * client-node's Watch, with two additions for the stall watchdog:
 * - every watch asks for bookmarks and a server-side timeout, so a healthy but quiet watch still
 *   shows life (a bookmark, or the reconnect ListWatch makes when the server ends the watch);
 * - each sign of life (the stream opened, any line received, bookmarks included, which ListWatch
 *   swallows without telling its listeners) is reported.
 */
import type { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import { Watch } from '@kubernetes/client-node/dist/watch.js';

export interface WatchSignals {
  /** The watch request got a 200 and its stream is open. */
  established(): void;
  /** A line arrived on the stream: an event, a bookmark or an error status. */
  line(): void;
}

export class ObservedWatch extends Watch {
  constructor(
    config: KubeConfig,
    private readonly timeoutSeconds: number,
    private readonly signals: WatchSignals,
  ) {
    super(config);
  }

  override async watch(
    path: string,
    queryParams: Record<string, string | number | boolean | undefined>,
    // The parameter types are client-node's own (`any` for the decoded object).
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    callback: (phase: string, apiObj: any, watchObj?: any) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController> {
    let ended = false;
    const controller = await super.watch(
      path,
      { ...queryParams, allowWatchBookmarks: true, timeoutSeconds: this.timeoutSeconds },
      (phase, apiObj, watchObj) => {
        this.signals.line();
        callback(phase, apiObj, watchObj);
      },
      (err) => {
        ended = true;
        done(err);
      },
    );
    // Watch.watch resolves once the response headers are in; a non-200 has already called done.
    if (!ended) this.signals.established();
    return controller;
  }
}
