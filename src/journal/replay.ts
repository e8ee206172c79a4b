/**
 * Plays a journal day into the Kite-compatible endpoint: every recorded message published
 * as it was received, at the recorded pace times `speed` (or, with `max`, as fast as the
 * slowest client reads), and every recorded lifecycle change applied, so clients get Kite's
 * protocol and kitekeeper's notices as they did live.
 *
 * @module
 */
import type { Endpoint } from "../endpoint/endpoint.ts";
import { type JournalEnd, readJournal } from "./reader.ts";
import type { ReplayLifecycle } from "./replay_lifecycle.ts";

/** How fast to play: a multiple of the recorded pace, or as fast as the clients read. */
export type ReplaySpeed = number | "max";

/** Options of {@linkcode playJournal}. */
export interface PlayOptions {
  readonly endpoint: Pick<Endpoint, "publish" | "backlog">;
  readonly lifecycle: Pick<ReplayLifecycle, "apply">;
  readonly speed: ReplaySpeed;
  /** Epoch ms; records before it only prime the endpoint's last ticks and the state. */
  readonly from?: number;
  /** Epoch ms; playing stops at the first record after it. */
  readonly to?: number;
  /** Resolves when playing should start (the first client subscribed). */
  readonly start: Promise<void>;
  /** Stops playing at the next record. */
  readonly signal?: AbortSignal;
}

/** What a play did. */
export interface PlayReport {
  readonly messages: number;
  /** Receive times (µs) of the first and last message played, or `null`. */
  readonly firstUs: number | null;
  readonly lastUs: number | null;
  /** Where the journal's valid part ended. */
  readonly end: JournalEnd;
}

/** Unsent bytes a client may hold before a `max` replay waits for it. */
const MAX_BACKLOG = 1024 * 1024;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Plays the journal file at `path`; resolves once every record in range is played (or the
 * valid part of the file ended, or `signal` aborted).
 */
export async function playJournal(path: string, options: PlayOptions): Promise<PlayReport> {
  const { endpoint, lifecycle, speed } = options;
  const fromUs = (options.from ?? -Infinity) * 1000;
  const toUs = (options.to ?? Infinity) * 1000;
  let end: JournalEnd | undefined;
  let started = false;
  let t0 = 0;
  let baseUs = 0;
  let messages = 0;
  let firstUs: number | null = null;
  let lastUs: number | null = null;
  for await (const record of readJournal(path, { onEnd: (e) => end = e })) {
    if (options.signal?.aborted) break;
    if (record.at_us > toUs) break;
    if (record.at_us >= fromUs && !started) {
      await options.start;
      started = true;
      t0 = performance.now();
      baseUs = record.at_us;
    }
    if (started) {
      if (speed === "max") {
        while (endpoint.backlog() > MAX_BACKLOG && !options.signal?.aborted) await sleep(1);
      } else {
        const wait = t0 + (record.at_us - baseUs) / 1000 / speed - performance.now();
        if (wait >= 1) await sleep(wait);
      }
    }
    if (record.kind === "lifecycle") lifecycle.apply(record.change);
    else if (record.kind === "message") {
      endpoint.publish(record.bytes);
      if (started) {
        messages++;
        firstUs ??= record.at_us;
        lastUs = record.at_us;
      }
    }
  }
  return {
    messages,
    firstUs,
    lastUs,
    end: end ?? { kind: "complete", offset: 0 },
  };
}
