/**
 * Prometheus text exposition, format 0.0.4: metric families in, the `/metrics` body out, and
 * a labelled counter to keep totals in. No client library: the format is a few lines of
 * text, and rendering it from snapshots keeps the daemon the single source of truth.
 *
 * @module
 */

/** A metric's kind; only the two kitekeeper uses. */
export type MetricType = "counter" | "gauge";

/** Label names to values, e.g. `{ from: "Live", to: "Expired" }`. */
export type Labels = Readonly<Record<string, string>>;

/** One sample of a family. */
export interface Sample {
  readonly labels?: Labels;
  readonly value: number;
}

/** A metric family: one `# HELP`, one `# TYPE`, then its samples. */
export interface MetricFamily {
  /** Matches `[a-zA-Z_:][a-zA-Z0-9_:]*`; a counter's ends in `_total`. */
  readonly name: string;
  /** One line of text. */
  readonly help: string;
  readonly type: MetricType;
  readonly samples: readonly Sample[];
}

/** A monotonic counter, one series per distinct label set. */
export interface Counter {
  /** Adds `by` (default 1, must be ≥ 0) to the series named by `labels`. */
  inc(labels?: Labels, options?: { by?: number }): void;
  /** Every series so far, in the order first seen. */
  samples(): Sample[];
}

/** The `Content-Type` of the 0.0.4 text format. */
export const EXPOSITION_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function escapeHelp(text: string): string {
  return text.replaceAll("\\", "\\\\").replaceAll("\n", "\\n");
}

function escapeLabelValue(text: string): string {
  return text.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

function formatLabels(family: string, labels: Labels | undefined): string {
  const entries = Object.entries(labels ?? {});
  if (entries.length === 0) return "";
  const parts = entries.map(([name, value]) => {
    if (!LABEL_NAME.test(name) || name.startsWith("__")) {
      throw new TypeError(`Failed to render metric ${family}: invalid label name "${name}"`);
    }
    return `${name}="${escapeLabelValue(value)}"`;
  });
  return `{${parts.join(",")}}`;
}

function labelKey(labels: Labels | undefined): string {
  return JSON.stringify(Object.entries(labels ?? {}).sort(([a], [b]) => a < b ? -1 : 1));
}

/** Creates a counter with no series; a series appears on its first `inc`. */
export function createCounter(): Counter {
  const series = new Map<string, { labels: Labels; value: number }>();
  return {
    inc(labels = {}, options = {}) {
      const by = options.by ?? 1;
      if (!(by >= 0)) throw new RangeError(`Failed to increment a counter: ${by} is not ≥ 0`);
      const key = labelKey(labels);
      const entry = series.get(key);
      if (entry) entry.value += by;
      else series.set(key, { labels: { ...labels }, value: by });
    },
    samples() {
      return [...series.values()].map(({ labels, value }) => ({ labels, value }));
    },
  };
}

/**
 * Renders `families` as the text exposition format 0.0.4, each with its `# HELP` and `# TYPE`
 * lines before its samples. A family with no samples still gets its HELP and TYPE lines.
 *
 * @throws {TypeError} for an invalid metric or label name, a counter not named `*_total`,
 * or a family named twice.
 *
 * @example
 * ```ts
 * renderMetrics([{ name: "up", help: "Serving.", type: "gauge", samples: [{ value: 1 }] }]);
 * // "# HELP up Serving.\n# TYPE up gauge\nup 1\n"
 * ```
 */
export function renderMetrics(families: readonly MetricFamily[]): string {
  const seen = new Set<string>();
  const lines: string[] = [];
  for (const family of families) {
    const { name, type } = family;
    if (!METRIC_NAME.test(name)) {
      throw new TypeError(`Failed to render metric "${name}": invalid metric name`);
    }
    // Prometheus' own clients name counters *_total; promtool warns otherwise.
    if (type === "counter" && !name.endsWith("_total")) {
      throw new TypeError(`Failed to render metric ${name}: a counter's name ends in _total`);
    }
    if (seen.has(name)) throw new TypeError(`Failed to render metric ${name}: named twice`);
    seen.add(name);
    lines.push(`# HELP ${name} ${escapeHelp(family.help)}`, `# TYPE ${name} ${type}`);
    for (const sample of family.samples) {
      lines.push(`${name}${formatLabels(name, sample.labels)} ${formatValue(sample.value)}`);
    }
  }
  return lines.length === 0 ? "" : `${lines.join("\n")}\n`;
}
