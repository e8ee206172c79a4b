/**
 * When the lifecycle checks its token and reminds the operator to log in: pure functions of
 * an instant, IST times of day and the trading holidays, so the machine can plan its timers
 * without a clock of its own.
 *
 * - Probes (`GET /user/profile`): at the token's expected expiry (06:00 IST by Kite's docs),
 *   at a daily recheck (07:35 IST by default: users report tokens flushed near 07:30), and
 *   every interval while NSE is in pre-open or open (a Kite Web logout kills a session at any
 *   hour), starting when pre-open starts.
 * - Reminders: at the configured IST times (08:30 and 08:50 by default: after the day's token
 *   death, before pre-open at 09:00), on trading days only.
 *
 * @module
 */
import { marketPhase } from "../market/phase.ts";
import { nextIstTime, type TimeOfDay } from "./expiry.ts";

/** What {@linkcode nextProbeAt} needs. */
export interface ProbePlan {
  /** When the token is expected to die, epoch ms; `null` when unknown. */
  readonly expectedExpiry: number | null;
  /** The daily recheck, IST. */
  readonly recheckAt: TimeOfDay;
  /** How often to probe while the market is in pre-open or open. */
  readonly intervalMs: number;
  /** Trading holidays as `YYYY-MM-DD` (IST). */
  readonly holidays: ReadonlySet<string>;
}

/** What {@linkcode nextReminderAt} needs. */
export interface ReminderPlan {
  /** The reminder times, IST. */
  readonly remindAt: readonly TimeOfDay[];
  /** Trading holidays as `YYYY-MM-DD` (IST). */
  readonly holidays: ReadonlySet<string>;
}

const PROBING_PHASES: ReadonlySet<string> = new Set(["pre_open", "pre_open_matching", "open"]);
const DAY_MS = 86_400_000;
const IST_OFFSET_MS = 330 * 60_000;
const NINE_AM_MS = 9 * 3_600_000;
/** Reminder search horizon: past the longest run of NSE holidays and weekends. */
const REMINDER_DAYS = 30;

/** Whether the IST day holding `at` is a trading day (NSE's pre-open runs at 09:00). */
export function isTradingDayAt(at: number, holidays: ReadonlySet<string>): boolean {
  const midnight = Math.floor((at + IST_OFFSET_MS) / DAY_MS) * DAY_MS - IST_OFFSET_MS;
  return marketPhase(midnight + NINE_AM_MS, { holidays }).phase === "pre_open";
}

/** The next interval probe after `after`: one interval on in market hours, else pre-open. */
function intervalProbe(after: number, plan: ProbePlan): number {
  let at = after + 1;
  // From a closed phase, the next change that starts pre-open; a few steps at most.
  for (let step = 0; step < 8; step++) {
    const phase = marketPhase(at, { holidays: plan.holidays });
    if (PROBING_PHASES.has(phase.phase)) return at === after + 1 ? after + plan.intervalMs : at;
    at = phase.next_change;
  }
  return at;
}

/**
 * The first probe time strictly after `after`: the earliest of the expected expiry (if it
 * is still ahead), the next daily recheck, and the next interval probe of market hours.
 */
export function nextProbeAt(after: number, plan: ProbePlan): number {
  const from = after + 1;
  const candidates = [nextIstTime(from, plan.recheckAt), intervalProbe(after, plan)];
  if (plan.expectedExpiry !== null && plan.expectedExpiry >= from) {
    candidates.push(plan.expectedExpiry);
  }
  return Math.min(...candidates);
}

/**
 * The first reminder time strictly after `after` on a trading day, or `null` when there are
 * no reminder times (or no trading day within a month).
 */
export function nextReminderAt(after: number, plan: ReminderPlan): number | null {
  if (plan.remindAt.length === 0) return null;
  let from = after + 1;
  for (let day = 0; day <= REMINDER_DAYS; day++) {
    const times = plan.remindAt.map((time) => nextIstTime(from, time)).sort((a, b) => a - b);
    for (const at of times) {
      if (isTradingDayAt(at, plan.holidays)) return at;
    }
    from = times[times.length - 1]! + 1;
  }
  return null;
}
