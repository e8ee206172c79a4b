/**
 * What every benchmark reports: figures beside their same-run baseline, and the statistics
 * they are computed with. Private to `scripts/bench*.ts`.
 *
 * @module
 */

/** A goal from the issue, and whether this run met it. */
export interface Goal {
  /** E.g. `"p99 ≤ 100 ms"`. */
  readonly text: string;
  readonly met: boolean;
}

/** One measured figure, the baseline measured beside it in the same run, and their ratio. */
export interface Figure {
  /** Stable and unique, e.g. `"recovery.env.p99_ms"`. */
  readonly key: string;
  /** The benchmark it belongs to, e.g. `"recovery"`. */
  readonly benchmark: string;
  /** What is measured, for the table, e.g. `"p99 by .env write"`. */
  readonly name: string;
  /** E.g. `"ms"`, `"ticks/s"`, `"% of a core"`, `"MB"`, `"req/s"`. */
  readonly unit: string;
  readonly value: number;
  readonly baseline: { readonly name: string; readonly value: number };
  /** `value / baseline.value`. */
  readonly ratio: number;
  readonly goal?: Goal;
}

/** The figures of one benchmark, and whatever else it measured (settings, counts). */
export interface BenchResult {
  readonly figures: readonly Figure[];
  readonly details: Readonly<Record<string, unknown>>;
}

/** Nearest-rank percentile summary of a sample, in the sample's unit. */
export interface Summary {
  readonly n: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

/**
 * Epoch milliseconds with sub-millisecond resolution. Two processes on one host read the
 * same clock this way, so a time taken in one can be subtracted from a time taken in another.
 */
export function epochMs(): number {
  return performance.timeOrigin + performance.now();
}

/** Resolves after `ms`: a bench script paces itself, a test never does. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** `value` rounded to `digits` decimals. */
export function round(value: number, digits = 2): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

/** The nearest-rank `p`th percentile (0 < p ≤ 100) of ascending `sorted`. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) throw new RangeError("Failed to take a percentile: no samples");
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1] as number;
}

/** p50, p90, p99 and max of `values` (any order). */
export function summarize(values: readonly number[]): Summary {
  const sorted = values.slice().sort((a, b) => a - b);
  return {
    n: sorted.length,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1] ?? Number.NaN,
  };
}

/**
 * p50, p90, p99 and max of samples that stand for `weight` observations each (a chunk that
 * carried 40 ticks is 40 ticks received at that time).
 */
export function summarizeWeighted(
  samples: readonly { readonly value: number; readonly weight: number }[],
): Summary {
  const sorted = samples.filter((s) => s.weight > 0).sort((a, b) => a.value - b.value);
  const total = sorted.reduce((sum, s) => sum + s.weight, 0);
  if (total === 0) throw new RangeError("Failed to take a percentile: no samples");
  function at(p: number): number {
    const rank = Math.max(1, Math.ceil((p / 100) * total));
    let seen = 0;
    for (const sample of sorted) {
      seen += sample.weight;
      if (seen >= rank) return sample.value;
    }
    return sorted[sorted.length - 1]!.value;
  }
  return { n: total, p50: at(50), p90: at(90), p99: at(99), max: sorted[sorted.length - 1]!.value };
}

/** A figure with its ratio computed. */
export function figure(
  fields: Omit<Figure, "ratio" | "goal">,
  goal?: { text: string; met: (value: number, baseline: number) => boolean },
): Figure {
  const { value } = fields;
  const base = fields.baseline.value;
  return {
    ...fields,
    ratio: base === 0 ? Number.NaN : value / base,
    ...(goal === undefined ? {} : { goal: { text: goal.text, met: goal.met(value, base) } }),
  };
}
