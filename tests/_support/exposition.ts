/**
 * A strict reader of Prometheus text exposition 0.0.4 for tests, so `/metrics` is checked
 * even where `promtool` is not installed: every line is a comment or a sample, names are
 * valid, every family has HELP and TYPE before its samples, samples of a family are
 * contiguous, counters end in `_total`, label sets are unique.
 *
 * @module
 */

/** One parsed sample. */
export interface ParsedSample {
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** One parsed family. */
export interface ParsedFamily {
  readonly name: string;
  readonly help: string;
  readonly type: string;
  readonly samples: ParsedSample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(["counter", "gauge", "histogram", "summary", "untyped"]);
const FLOAT = /^[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|Inf|NaN)$/;

function fail(lineNumber: number, line: string, why: string): never {
  throw new SyntaxError(
    `Failed to parse metrics line ${lineNumber} (${JSON.stringify(line)}): ${why}`,
  );
}

function parseValue(text: string): number {
  if (text === "+Inf" || text === "Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  return Number(text);
}

/** Reads `{a="x",b="y"}` from `text` at `start`; returns the labels and the index after `}`. */
function parseLabels(
  text: string,
  start: number,
  lineNumber: number,
): { labels: Record<string, string>; end: number } {
  const labels: Record<string, string> = {};
  let i = start + 1;
  while (text[i] !== "}") {
    const nameEnd = text.indexOf("=", i);
    if (nameEnd < 0) fail(lineNumber, text, "a label without =");
    const name = text.slice(i, nameEnd);
    if (!LABEL_NAME.test(name)) fail(lineNumber, text, `invalid label name "${name}"`);
    if (name in labels) fail(lineNumber, text, `label "${name}" twice`);
    if (text[nameEnd + 1] !== '"') fail(lineNumber, text, "a label value must be quoted");
    let value = "";
    let j = nameEnd + 2;
    for (; j < text.length && text[j] !== '"'; j++) {
      if (text[j] === "\n") fail(lineNumber, text, "a raw newline in a label value");
      if (text[j] !== "\\") {
        value += text[j];
        continue;
      }
      const escaped = text[++j];
      if (escaped === "n") value += "\n";
      else if (escaped === "\\" || escaped === '"') value += escaped;
      else fail(lineNumber, text, `invalid escape \\${escaped}`);
    }
    if (text[j] !== '"') fail(lineNumber, text, "an unterminated label value");
    labels[name] = value;
    i = j + 1;
    if (text[i] === ",") i++;
    else if (text[i] !== "}") fail(lineNumber, text, "expected , or } after a label");
  }
  return { labels, end: i + 1 };
}

/**
 * Parses `text` strictly, returning the families by name.
 *
 * @throws {SyntaxError} naming the first line that breaks a rule.
 */
export function parseExposition(text: string): Map<string, ParsedFamily> {
  if (text !== "" && !text.endsWith("\n")) fail(0, text.slice(-20), "no final newline");
  const families = new Map<string, ParsedFamily>();
  const help = new Map<string, string>();
  const closed = new Set<string>();
  const seenLabelSets = new Set<string>();
  let current: string | null = null;
  const lines = text.split("\n").slice(0, -1);
  lines.forEach((line, index) => {
    const lineNumber = index + 1;
    if (line.trim() === "") fail(lineNumber, line, "an empty line");
    if (line.startsWith("#")) {
      const match = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (match === null) return; // A plain comment.
      const [, keyword, name, rest] = match as unknown as [string, string, string, string];
      if (!METRIC_NAME.test(name)) fail(lineNumber, line, `invalid metric name "${name}"`);
      if (closed.has(name) || families.get(name)?.samples.length) {
        fail(lineNumber, line, `${keyword} for ${name} after its samples`);
      }
      if (current !== null && current !== name) closed.add(current);
      current = name;
      if (keyword === "HELP") {
        if (help.has(name)) fail(lineNumber, line, `a second HELP for ${name}`);
        help.set(name, rest);
        return;
      }
      if (families.has(name)) fail(lineNumber, line, `a second TYPE for ${name}`);
      if (!TYPES.has(rest)) fail(lineNumber, line, `unknown type "${rest}"`);
      if (!help.has(name)) fail(lineNumber, line, `TYPE before HELP for ${name}`);
      if (rest === "counter" && !name.endsWith("_total")) {
        fail(lineNumber, line, `counter ${name} does not end in _total`);
      }
      families.set(name, { name, help: help.get(name)!, type: rest, samples: [] });
      return;
    }
    const name = /^[^\s{]+/.exec(line)?.[0] ?? "";
    if (!METRIC_NAME.test(name)) fail(lineNumber, line, `invalid metric name "${name}"`);
    const family = families.get(name);
    if (family === undefined) {
      fail(lineNumber, line, `a sample of ${name} before its HELP and TYPE`);
    }
    if (closed.has(name) || current !== name) fail(lineNumber, line, `${name}'s samples are split`);
    let rest = line.slice(name.length);
    let labels: Record<string, string> = {};
    if (rest.startsWith("{")) {
      const parsed = parseLabels(rest, 0, lineNumber);
      labels = parsed.labels;
      rest = rest.slice(parsed.end);
    }
    const parts = rest.split(" ");
    if (parts[0] !== "" || parts.length < 2 || parts.length > 3) {
      fail(lineNumber, line, "expected one space, a value and an optional timestamp");
    }
    const valueText = parts[1]!;
    if (!FLOAT.test(valueText)) fail(lineNumber, line, `invalid value "${valueText}"`);
    if (parts[2] !== undefined && !/^-?\d+$/.test(parts[2])) {
      fail(lineNumber, line, `invalid timestamp "${parts[2]}"`);
    }
    const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    if (seenLabelSets.has(key)) fail(lineNumber, line, "the same series twice");
    seenLabelSets.add(key);
    const value = parseValue(valueText);
    if (family.type === "counter" && !(value >= 0)) {
      fail(lineNumber, line, "a counter must be ≥ 0");
    }
    family.samples.push({ labels, value });
  });
  for (const name of help.keys()) {
    if (!families.has(name)) throw new SyntaxError(`Failed to parse metrics: ${name} has no TYPE`);
  }
  return families;
}
