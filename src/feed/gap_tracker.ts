/**
 * Gaps in the feed: while NSE is open (`open` phase), every interval in which an upstream
 * shard that carries instruments had no open socket (`not_live`), or had one that stayed
 * silent for the stall limit (`silent`), is a gap. A gap starts at the shard's last sign of
 * life (or at the opening of the market, or when the watching began, if later: a daemon
 * started during market hours counts its first connection as a short gap, since nothing was
 * received then) and ends when data flows again or the market closes. Outside market hours nothing is a gap: the 06:00 token rotation is not one.
 *
 * PURE: {@linkcode observeGaps} takes the tally so far and an observation at one instant,
 * and returns the next tally and the gaps that closed; `gap_watch.ts` feeds it.
 *
 * @module
 */
import { istDate } from "../market/ist_time.ts";

/** Why a shard delivered nothing. */
export type GapCause = "not_live" | "silent";

/** An interval, within market hours, in which one upstream shard delivered nothing. */
export interface Gap {
  /** The upstream shard, 0 to 2. */
  readonly shard: number;
  /** Epoch ms of its last sign of life before (or of the market's opening). */
  readonly start: number;
  /** Epoch ms when data flowed again or the market closed. */
  readonly end: number;
  readonly cause: GapCause;
}

/** One shard at one instant. */
export interface ShardObservation {
  /** Whether it should carry instruments. */
  readonly planned: boolean;
  /** Its socket: none, opening (handshake), or open. */
  readonly socket: "none" | "opening" | "open";
  /** Epoch ms of the open socket's last sign of life (opened or data); `null` otherwise. */
  readonly activeAt: number | null;
}

/** Everything the tracker looks at, at one instant. */
export interface GapObservation {
  /** Epoch ms. */
  readonly now: number;
  /** When the market's `open` phase began, or `null` when the market is not open. */
  readonly openSince: number | null;
  readonly shards: readonly ShardObservation[];
}

/** A gap still going on. */
export interface OpenGap {
  readonly shard: number;
  readonly start: number;
  readonly cause: GapCause;
}

/** The tally so far; start with {@linkcode emptyGapTally}. */
export interface GapTally {
  /** The IST date `count` and `closedMs` are about. */
  readonly date: string;
  /** Gaps closed today. */
  readonly count: number;
  /** Their total length, ms. */
  readonly closedMs: number;
  /** The latest closed gaps, oldest first, at most {@linkcode KEPT_GAPS}. */
  readonly last: readonly Gap[];
  /** Gaps going on, at most one a shard. */
  readonly open: readonly OpenGap[];
  /** Every closed gap's length since the tally began (for a counter), ms. */
  readonly totalMs: number;
  /** Each shard's last sign of life, where known. */
  readonly lastActive: readonly (number | null)[];
  /** When the watching began: nothing before it is known, so no gap starts earlier. */
  readonly since: number;
}

/** What `/status` shows as `feed.gaps_today`. */
export interface GapsToday {
  /** Gaps today, the ones going on included. */
  readonly count: number;
  /** Their total length so far, s. */
  readonly seconds: number;
  /** The latest, oldest first; `end` is `null` for one going on. */
  readonly last: readonly {
    readonly shard: number;
    readonly start: string;
    readonly end: string | null;
    readonly seconds: number;
    readonly cause: GapCause;
  }[];
}

/** How many closed gaps a tally keeps to show. */
export const KEPT_GAPS = 5;

/** A tally with nothing in it, as of `now`. */
export function emptyGapTally(now: number): GapTally {
  return {
    date: istDate(now),
    count: 0,
    closedMs: 0,
    last: [],
    open: [],
    totalMs: 0,
    lastActive: [],
    since: now,
  };
}

function healthy(shard: ShardObservation, now: number, stallMs: number): boolean {
  // Stalled at the limit itself, as the lifecycle's watchdog says.
  return shard.socket === "open" && shard.activeAt !== null && now - shard.activeAt < stallMs;
}

/**
 * The tally after `observation`, and the gaps that closed with it.
 *
 * @example
 * ```ts
 * let tally = emptyGapTally(now);
 * const step = observeGaps(tally, { now, openSince, shards }, { stallMs: 5000 });
 * tally = step.tally;
 * for (const gap of step.closed) journal.append(gap);
 * ```
 */
export function observeGaps(
  tally: GapTally,
  observation: GapObservation,
  options: { readonly stallMs: number },
): { readonly tally: GapTally; readonly closed: readonly Gap[] } {
  const { now, openSince, shards } = observation;
  const date = istDate(now);
  let { count, closedMs, last, totalMs } = tally;
  if (date !== tally.date) [count, closedMs] = [0, 0];
  const lastActive = shards.map((shard, i) =>
    shard.socket === "open" && shard.activeAt !== null
      ? shard.activeAt
      : tally.lastActive[i] ?? null
  );
  const closed: Gap[] = [];
  const open: OpenGap[] = [];
  for (const [index, shard] of shards.entries()) {
    const going = tally.open.find((gap) => gap.shard === index);
    const inScope = openSince !== null && shard.planned;
    const fine = healthy(shard, now, options.stallMs);
    if (going !== undefined) {
      if (inScope && !fine) {
        open.push(going);
        continue;
      }
      const gap: Gap = { ...going, end: now };
      closed.push(gap);
      count++;
      closedMs += gap.end - gap.start;
      totalMs += gap.end - gap.start;
      continue;
    }
    if (!inScope || fine) continue;
    const cause = shard.socket === "open" ? "silent" : "not_live";
    const start = Math.max(lastActive[index] ?? tally.since, openSince);
    open.push({ shard: index, start, cause });
  }
  if (closed.length > 0) last = [...last, ...closed].slice(-KEPT_GAPS);
  const next = { date, count, closedMs, last, open, totalMs, lastActive, since: tally.since };
  return { tally: next, closed };
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** `feed.gaps_today` at `now` from a tally: gaps going on count with their length so far. */
export function gapsToday(tally: GapTally, now: number): GapsToday {
  const today = tally.date === istDate(now);
  const closed = today ? tally.last.filter((gap) => istDate(gap.end) === tally.date) : [];
  const going = tally.open.map((gap) => ({ ...gap, end: null, seconds: (now - gap.start) / 1000 }));
  const openMs = tally.open.reduce((sum, gap) => sum + (now - gap.start), 0);
  const last = [
    ...closed.map((gap) => ({ ...gap, end: iso(gap.end), seconds: (gap.end - gap.start) / 1000 })),
    ...going,
  ].slice(-KEPT_GAPS).map((gap) => ({ ...gap, start: iso(gap.start) }));
  return {
    count: (today ? tally.count : 0) + tally.open.length,
    seconds: ((today ? tally.closedMs : 0) + openMs) / 1000,
    last,
  };
}

/** Every closed gap's length plus the open ones' so far, s: a counter that never goes back. */
export function gapSecondsTotal(tally: GapTally, now: number): number {
  return (tally.totalMs + tally.open.reduce((sum, gap) => sum + (now - gap.start), 0)) / 1000;
}
