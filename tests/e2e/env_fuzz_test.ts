import assert from "node:assert/strict";
import fc from "fast-check";
import { readToken } from "../../src/token/read_token.ts";
import { parseEnv, readEnvFile, tokenKeyIn, writeToken } from "../../src/token/env_file.ts";
import { listDir, withTempDir } from "../_support/temp_dir.ts";

/** The default `KITEKEEPER_TOKEN_PATTERN`. */
const TOKEN_PATTERN = /^[A-Za-z0-9]{32}$/;
/** Pure properties are cheap; file-writing ones fsync, so they run fewer times. */
const PURE_RUNS = 1000;
const FILE_RUNS = 200;
const TEMP_PREFIX = "kitekeeper_fuzz_";
const WRITE_FAILURE = /^Failed to write \.env: /;
const INVALID_DETAIL =
  /^(KITE|ZERODHA)_ACCESS_TOKEN is (empty|\d+ characters( \(it contains whitespace\))?; expected .*)$/s;

const KEYS = [
  "KITE_ACCESS_TOKEN",
  "ZERODHA_ACCESS_TOKEN",
  "KITE_API_KEY",
  "KITE_API_SECRET",
  "A",
  "kite_access_token",
  "KITE_ACCESS_TOKEN_OLD",
];

/** Values as a .env may spell them: plain, quoted three ways, unterminated, with newlines. */
const rawValue = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9]{32}$/),
  fc.string({ maxLength: 12 }),
  fc.constantFrom("", " ", "a b", "x#y", "=", "$HOME", "\\n", "é✓", "\u00a0", "\t"),
  fc.array(fc.constantFrom("a", "Z", "0", " ", "#", "=", "\\", "\\n", "'", '"', "`"), {
    maxLength: 8,
  }).map((parts) => parts.join("")),
);

const quoted = fc.tuple(rawValue, fc.constantFrom("", '"', "'", "`"), fc.boolean())
  .map(([value, quote, closed]) => quote + value + (closed ? quote : ""));

/** A value spanning lines, whose inner lines may look like assignments. */
const multiLine = fc.tuple(
  fc.constantFrom('"', "'", "`"),
  fc.array(fc.oneof(rawValue, fc.constantFrom("KITE_ACCESS_TOKEN=inner", "export A=1")), {
    minLength: 1,
    maxLength: 3,
  }),
  fc.constantFrom("\n", "\r\n"),
).map(([quote, parts, eol]) => quote + parts.join(eol) + quote);

const assignment = fc.record({
  indent: fc.constantFrom("", " ", "\t"),
  exported: fc.constantFrom("", "export ", "export  ", "export\t"),
  key: fc.constantFrom(...KEYS),
  equals: fc.constantFrom("=", " = ", "= ", " =", ":"),
  value: fc.oneof(quoted, multiLine),
  comment: fc.constantFrom("", " # note", "#tight", " # KITE_ACCESS_TOKEN=x", "  "),
}).map((a) => a.indent + a.exported + a.key + a.equals + a.value + a.comment);

const line = fc.oneof(
  { weight: 5, arbitrary: assignment },
  { weight: 1, arbitrary: fc.constantFrom("", "# comment", "#KITE_ACCESS_TOKEN=old", "   ") },
  { weight: 1, arbitrary: fc.string({ maxLength: 20 }) },
);

/** `.env` text: lines with mixed endings, maybe a BOM, maybe no final newline. */
const envText = fc.tuple(
  fc.boolean(),
  fc.array(fc.tuple(line, fc.constantFrom("\n", "\r\n", "\r")), { maxLength: 10 }),
  fc.constantFrom("", "\n", "\r\n"),
).map(([bom, lines, last]) => {
  const body = lines.map(([text, eol]) => text + eol).join("");
  return (bom ? "\uFEFF" : "") + body.replace(/(\r\n|\n|\r)$/, last);
});

/** Anything at all: structured text, arbitrary code points (lone surrogates too). */
const anyText = fc.oneof(envText, fc.string({ unit: "binary", maxLength: 200 }));

/** Tokens writeToken accepts: Kite-shaped ones, and anything without a .env metacharacter. */
const writableToken = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9]{32}$/),
  fc.stringMatching(/^[^\s"'`#\\]+$/),
  fc.string({ unit: "grapheme", minLength: 1, maxLength: 8 }).filter((t) =>
    /^[^\s"'`#\\]+$/.test(t)
  ),
);

/** Splits `text` into lines, each keeping its terminator. */
function splitLines(text: string): string[] {
  return text.match(/[^\r\n]*(?:\r\n|\n|\r)|[^\r\n]+$/g) ?? [];
}

/**
 * Checks the bytes of a write: `after` is `before` with one line's value replaced, or with
 * `key=token` appended (after a line break, when `before` did not end with one).
 */
function assertOneLineChanged(
  before: string,
  after: string,
  options: { key: string; token: string },
): void {
  if (before === after) return;
  // An append adds `key=token` on a line of its own. (Filling an empty last value,
  // `KEY=` → `KEY=token`, also extends the text, but is a one-line replacement: checked below.)
  const assignment = `${options.key}=${options.token}`;
  const appended = ["\n", "\r\n"].flatMap((eol) => [assignment + eol, eol + assignment]);
  if (after.startsWith(before) && appended.includes(after.slice(before.length))) return;
  const was = splitLines(before);
  const now = splitLines(after);
  assert.equal(now.length, was.length, "a replacing write changed the number of lines");
  const changed = now.filter((text, index) => text !== was[index]);
  assert.equal(changed.length, 1, `lines changed: ${JSON.stringify(changed)}`);
  assert.ok(changed[0]?.includes(options.token), "the changed line holds the token");
}

/** Checks readToken's contract on `values`: valid only for a pattern match, never quoting. */
function assertTokenReadSound(values: Record<string, string>): void {
  const read = readToken(values, TOKEN_PATTERN);
  const key = tokenKeyIn(values);
  if (read.kind === "valid") {
    assert.equal(read.key, key);
    assert.equal(read.token, values[key]);
    assert.match(read.token, TOKEN_PATTERN);
  } else if (read.kind === "absent") {
    assert.equal(values["KITE_ACCESS_TOKEN"], undefined);
    assert.equal(values["ZERODHA_ACCESS_TOKEN"], undefined);
  } else {
    assert.equal(read.key, key);
    assert.ok(!TOKEN_PATTERN.test(values[key] ?? ""), "a matching token read as invalid");
    assert.match(read.detail, INVALID_DETAIL);
  }
}

Deno.test("parseEnv() and readToken() never throw on any text, and only a pattern match is valid", () => {
  fc.assert(
    fc.property(anyText, (text) => {
      assertTokenReadSound(parseEnv(text));
    }),
    { numRuns: PURE_RUNS },
  );
});

Deno.test("parseEnv() and readToken() never throw on any bytes read as readEnvFile does", () => {
  const decoder = new TextDecoder("utf-8", { ignoreBOM: true });
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      assertTokenReadSound(parseEnv(decoder.decode(bytes)));
    }),
    { numRuns: PURE_RUNS },
  );
});

Deno.test("readToken() is valid for exactly the values the pattern matches, wherever they sit", () => {
  const value = fc.oneof(fc.stringMatching(/^[A-Za-z0-9]{32}$/), fc.string({ maxLength: 40 }));
  fc.assert(
    fc.property(
      fc.option(value, { nil: undefined }),
      fc.option(value, { nil: undefined }),
      (kite, zerodha) => {
        const values: Record<string, string> = {};
        if (kite !== undefined) values["KITE_ACCESS_TOKEN"] = kite;
        if (zerodha !== undefined) values["ZERODHA_ACCESS_TOKEN"] = zerodha;
        assertTokenReadSound(values);
      },
    ),
    { numRuns: PURE_RUNS },
  );
});

Deno.test("readEnvFile() never throws on any bytes and parses what it read", async () => {
  await withTempDir(TEMP_PREFIX, async (dir) => {
    const path = `${dir}/.env`;
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 300 }),
          anyText.map((t) => new TextEncoder().encode(t)),
        ),
        async (bytes) => {
          await Deno.writeFile(path, bytes);
          const read = await readEnvFile(path);
          assert.equal(read.kind, "ok");
          assert.ok(read.kind === "ok");
          assert.deepEqual(read.values, parseEnv(read.text));
        },
      ),
      { numRuns: FILE_RUNS },
    );
  });
});

Deno.test("writeToken() on any .env sets only the token, or fails leaving the file byte-identical", async () => {
  await withTempDir(TEMP_PREFIX, async (dir) => {
    const path = `${dir}/.env`;
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          { weight: 4, arbitrary: envText.map((t) => new TextEncoder().encode(t)) },
          { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }) },
        ),
        writableToken,
        async (bytes, token) => {
          await Deno.writeFile(path, bytes);
          const text = new TextDecoder("utf-8", { ignoreBOM: true }).decode(bytes);
          const before = parseEnv(text);
          const key = tokenKeyIn(before);
          let result: string;
          try {
            result = await writeToken(path, token);
          } catch (error: unknown) {
            assert.ok(error instanceof Error);
            assert.match(error.message, WRITE_FAILURE);
            assert.ok(!error.message.includes(token) || token.length < 4, error.message);
            assert.deepEqual(await Deno.readFile(path), bytes, "a failed write changed the file");
            assert.deepEqual(await listDir(dir), [".env"], "a failed write left a temp file");
            return;
          }
          const afterBytes = await Deno.readFile(path);
          const afterText = new TextDecoder("utf-8", { ignoreBOM: true }).decode(afterBytes);
          const after = parseEnv(afterText);
          assert.deepEqual(after, { ...before, [key]: token });
          if (result === "unchanged") assert.deepEqual(afterBytes, bytes);
          else assert.equal(result, "written");
          assertOneLineChanged(text, afterText, { key, token });
          if (TOKEN_PATTERN.test(token)) {
            assert.deepEqual(readToken(after, TOKEN_PATTERN), { kind: "valid", token, key });
          }
          assert.deepEqual(await listDir(dir), [".env"]);
        },
      ),
      { numRuns: FILE_RUNS },
    );
  });
});
