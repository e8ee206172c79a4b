/**
 * Errors `/_sim/reject` asks for: the next N handshakes (or REST calls) fail with a given
 * status and Kite's error body, whatever the token. Each target keeps its own queue.
 *
 * @module
 */
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { KiteErrorType } from "../kite/kite_error.ts";

/** One error to answer with. */
export interface InjectedError {
  readonly status: ContentfulStatusCode;
  readonly errorType: KiteErrorType;
  readonly message: string;
}

/** A FIFO of errors, each for a number of calls. */
export class InjectedErrors {
  #queue: { error: InjectedError; left: number }[] = [];

  /** Makes the next `count` calls (after those already queued) fail with `error`. */
  push(error: InjectedError, count: number): void {
    if (count > 0) this.#queue.push({ error, left: count });
  }

  /** The error for this call, if one is queued; uses it up. */
  take(): InjectedError | undefined {
    const head = this.#queue[0];
    if (head === undefined) return undefined;
    if (--head.left === 0) this.#queue.shift();
    return head.error;
  }

  /** How many calls will still fail. */
  pending(): number {
    return this.#queue.reduce((sum, entry) => sum + entry.left, 0);
  }

  /** Forgets every queued error. */
  clear(): void {
    this.#queue = [];
  }
}
