/**
 * The `.env` file: parse it with the real dotenv parser, read it without throwing, and
 * update the access token atomically while keeping every other byte.
 *
 * @module
 */
import { parse } from "dotenv";
import { randomBytes } from "node:crypto";
import { basename, dirname } from "node:path";
import { DEFAULT_ENV_MAX_BYTES, errorCode, readRegularFile } from "./env_path.ts";
import { symlinkChain } from "./symlink_chain.ts";

/** What {@linkcode readEnvFile} found. `text` is the file as read (BOM included). */
export type EnvReadResult =
  | {
    readonly kind: "ok";
    readonly values: Readonly<Record<string, string>>;
    readonly text: string;
    /** The file's hard-link count: above 1, the atomic write will break the link. */
    readonly links: number;
  }
  | { readonly kind: "missing" }
  | { readonly kind: "unreadable"; readonly detail: string };

/** The keys the access token may live under, in order of preference. */
export const TOKEN_KEYS = Object.freeze(["KITE_ACCESS_TOKEN", "ZERODHA_ACCESS_TOKEN"] as const);

/** One of {@linkcode TOKEN_KEYS}. */
export type TokenKey = typeof TOKEN_KEYS[number];

/** What {@linkcode writeToken} did. */
export type WriteResult = "written" | "unchanged";

const BOM = "\uFEFF";
// The UTF-8 BOM's bytes as bytesToBinary() spells them.
const BINARY_BOM = "\xEF\xBB\xBF";
// A write takes milliseconds, so a temp file this old was left by a writer that died
// between creating it and renaming it; a younger one may be another writer's, mid-write.
const STALE_TEMP_MS = 60_000;
// A .env line holds the token verbatim (quoted or not), so it must not carry what ends,
// quotes, escapes or comments a value.
const WRITABLE_TOKEN = /^[^\s"'`#\\]+$/;

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Bytes as a string of one char per byte, so any bytes (Latin-1 too) come back exactly. */
function bytesToBinary(bytes: Uint8Array): string {
  let text = "";
  for (let index = 0; index < bytes.length; index += 0x8000) {
    text += String.fromCharCode(...bytes.subarray(index, index + 0x8000));
  }
  return text;
}

/** Bytes decoded as readers decode them: UTF-8, a stray byte replaced, a BOM kept. */
function decodeAsRead(bytes: Uint8Array): string {
  // Not fatal: a stray byte elsewhere must not hide the token.
  return new TextDecoder("utf-8", { ignoreBOM: true }).decode(bytes);
}

/** The inverse of {@linkcode bytesToBinary}. */
function binaryToBytes(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length);
  for (let index = 0; index < text.length; index++) bytes[index] = text.charCodeAt(index);
  return bytes;
}

/** Splits `text` into lines, each keeping its own terminator. */
function splitLines(text: string): string[] {
  return text.match(/[^\r\n]*(?:\r\n|\n|\r)|[^\r\n]+$/g) ?? [];
}

/** `line` with `key`'s value replaced by `token`, keeping prefix, quotes and comment; else null. */
function replaceValue(line: string, key: string, token: string): string | null {
  const match = new RegExp(`^(\\s*(?:export\\s+)?${escapeRegExp(key)}\\s*=[ \\t]*)(.*)$`, "s")
    .exec(line);
  if (match === null) return null;
  const prefix = match[1] ?? "";
  const rest = match[2] ?? "";
  const eol = /(?:\r\n|\n|\r)$/.exec(rest)?.[0] ?? "";
  const body = rest.slice(0, rest.length - eol.length);
  const quote = body[0];
  if (quote === '"' || quote === "'" || quote === "`") {
    const close = body.indexOf(quote, 1);
    if (close !== -1) return prefix + quote + token + quote + body.slice(close + 1) + eol;
  }
  // Unquoted: the value runs to a `#`; keep the spacing before the comment.
  const hash = body.indexOf("#");
  const valueEnd = hash === -1 ? body.length : hash;
  const spacing = /\s*$/.exec(body.slice(0, valueEnd))?.[0] ?? "";
  return prefix + token + spacing + body.slice(valueEnd) + eol;
}

/** Replaces the last line that sets `key` (the one dotenv keeps); null when none does. */
function replaceLastAssignment(text: string, key: string, token: string): string | null {
  const hasBom = text.startsWith(BOM);
  const lines = splitLines(hasBom ? text.slice(1) : text);
  for (let index = lines.length - 1; index >= 0; index--) {
    const replaced = replaceValue(lines[index] ?? "", key, token);
    if (replaced !== null) {
      lines[index] = replaced;
      return (hasBom ? BOM : "") + lines.join("");
    }
  }
  return null;
}

/** Appends `key=token` in the file's line-ending style, ending the way the file ended. */
function appendAssignment(text: string, key: string, token: string): string {
  const eol = text.includes("\r\n") ? "\r\n" : "\n";
  const body = text.startsWith(BOM) ? text.slice(1) : text;
  if (body === "") return `${text}${key}=${token}${eol}`;
  if (/[\r\n]$/.test(body)) return `${text}${key}=${token}${eol}`;
  return `${text}${eol}${key}=${token}`;
}

/** True when the values `actual` are `before` with only `key` set to `token`. */
function changesOnly(
  before: Record<string, string>,
  actual: Record<string, string>,
  key: string,
  token: string,
): boolean {
  const expected: Record<string, string> = { ...before, [key]: token };
  const keys = new Set([...Object.keys(expected), ...Object.keys(actual)]);
  for (const name of keys) {
    if (expected[name] !== actual[name]) return false;
  }
  return true;
}

/**
 * Parses `.env` text with the dotenv parser: `KEY=value` lines, `export ` prefixes, single,
 * double and backtick quotes (`\n` expands inside double quotes), `#` comments, CRLF and a
 * leading BOM; a repeated key keeps its last value.
 *
 * @example
 * ```ts
 * parseEnv('export KITE_API_KEY="k" # mine\n'); // { KITE_API_KEY: "k" }
 * ```
 */
export function parseEnv(text: string): Record<string, string> {
  return parse(text.startsWith(BOM) ? text.slice(1) : text);
}

/**
 * The key the token is read from and written to: the first of {@linkcode TOKEN_KEYS} with a
 * value, else the first present (empty), else `KITE_ACCESS_TOKEN`.
 */
export function tokenKeyIn(values: Readonly<Record<string, string>>): TokenKey {
  return TOKEN_KEYS.find((key) => (values[key] ?? "") !== "") ??
    TOKEN_KEYS.find((key) => values[key] !== undefined) ?? "KITE_ACCESS_TOKEN";
}

/** Options of {@linkcode readEnvFile} and {@linkcode writeToken}. */
export interface EnvFileOptions {
  /** A larger file is refused (`EFBIG`); default 1 MiB (`KITEKEEPER_ENV_MAX_BYTES`). */
  readonly maxBytes?: number;
}

/**
 * Reads and parses the `.env` at `path`. Never throws and never blocks: a missing file (or
 * dangling symlink) is `missing`; anything but a regular file (a directory, a named pipe, a
 * device), a file over `options.maxBytes`, a permission error and the like are `unreadable`,
 * with a `detail` naming what the path is or the error code (`EISDIR: a directory, not a
 * regular file`, `EACCES`).
 */
export async function readEnvFile(
  path: string,
  options: EnvFileOptions = {},
): Promise<EnvReadResult> {
  const read = await readRegularFile(path, {
    maxBytes: options.maxBytes ?? DEFAULT_ENV_MAX_BYTES,
  });
  if (read.kind === "missing") return read;
  if (read.kind === "refused") return { kind: "unreadable", detail: read.detail };
  const text = decodeAsRead(read.bytes);
  return { kind: "ok", values: Object.freeze(parseEnv(text)), text, links: read.links };
}

/**
 * Stores `token` in the `.env` at `path`, atomically: the token's line is replaced (the last
 * one setting `options.key`, default {@linkcode tokenKeyIn} the file, keeping its `export `
 * prefix, quotes and trailing comment), or `KITE_ACCESS_TOKEN=…` is appended when no line
 * sets it; every other byte (comments, order, CRLF, BOM, a missing final newline, bytes that
 * are not UTF-8) is kept exactly. The key is decided from the file as it is at this write.
 * A missing file is created. Returns `"unchanged"` without touching the file when it already
 * holds `token`.
 *
 * The new content goes to a temp file beside the target, is fsynced, chmod 0600, and renamed
 * over the target; the directory is then fsynced. When `path` is a symlink, the file it
 * points to is replaced and the link is kept. On failure the temp file is removed and the
 * error is `Error("Failed to write .env: <code>")`, never naming the token. A target that is
 * not a regular file, or is over `options.maxBytes`, is refused the same way.
 * A write also removes the target's temp files older than a minute, which only a writer
 * killed between creating and renaming one leaves behind.
 *
 * @example
 * ```ts
 * await writeToken("/srv/kitekeeper/.env", accessToken); // "written"
 * ```
 */
export async function writeToken(
  path: string,
  token: string,
  options: EnvFileOptions & { key?: string } = {},
): Promise<WriteResult> {
  if (!WRITABLE_TOKEN.test(token)) {
    throw new TypeError("Failed to write .env: the token has characters a .env value cannot hold");
  }
  let target: string;
  let bytes: Uint8Array;
  try {
    target = (await symlinkChain(path)).target;
    const read = await readRegularFile(target, {
      maxBytes: options.maxBytes ?? DEFAULT_ENV_MAX_BYTES,
    });
    if (read.kind === "refused") throw new Error(read.detail);
    bytes = read.kind === "ok" ? read.bytes : new Uint8Array();
  } catch (error: unknown) {
    const detail = error instanceof Error && !("code" in error) ? error.message : errorCode(error);
    throw new Error(`Failed to write .env: ${detail}`, { cause: error });
  }
  // Edited one char per byte (the token as its UTF-8 bytes): the syntax is ASCII, and every
  // other byte (a Latin-1 comment, say) goes back exactly as it came. Checked as readers see
  // the file (UTF-8, a stray byte replaced), where a non-ASCII byte can be whitespace.
  const whole = bytesToBinary(bytes);
  const bom = whole.startsWith(BINARY_BOM) ? BINARY_BOM : "";
  const text = whole.slice(bom.length);
  const value = bytesToBinary(new TextEncoder().encode(token));
  const asRead = (binary: string) => parseEnv(decodeAsRead(binaryToBytes(binary)));
  const before = asRead(text);
  const key = options.key ?? tokenKeyIn(before);
  if (before[key] === token) return "unchanged";
  const changesOnlyToken = (next: string) => changesOnly(before, asRead(next), key, token);

  let next = replaceLastAssignment(text, key, value);
  // A line that only looks like an assignment (inside a multi-line value, say) must not be
  // edited: appending a later assignment is always right, because the last one wins.
  if (next === null || !changesOnlyToken(next)) {
    next = appendAssignment(text, key, value);
  }
  if (!changesOnlyToken(next)) {
    throw new Error(`Failed to write .env: cannot express ${key} in this file`);
  }

  const directory = dirname(target);
  const temp = `${directory}/${tempPrefix(target)}${randomBytes(6).toString("hex")}`;
  let created = false;
  try {
    const file = await Deno.open(temp, { write: true, createNew: true, mode: 0o600 });
    created = true;
    try {
      const bytes = binaryToBytes(bom + next);
      let written = 0;
      while (written < bytes.length) written += await file.write(bytes.subarray(written));
      await file.sync();
    } finally {
      file.close();
    }
    await Deno.chmod(temp, 0o600);
    await Deno.rename(temp, target);
    created = false;
  } catch (error: unknown) {
    if (created) await Deno.remove(temp).catch(() => {});
    throw new Error(`Failed to write .env: ${errorCode(error)}`, { cause: error });
  }
  await syncDirectory(directory);
  await sweepStaleTemps(directory, tempPrefix(target));
  return "written";
}

/** The name of `target`'s temp files, before their 12 random hex digits. */
function tempPrefix(target: string): string {
  return `${basename(target)}.tmp-`;
}

/**
 * Removes the temp files a killed writer left beside the target (they hold a token), once
 * they are older than {@linkcode STALE_TEMP_MS}; best effort, the write is already done.
 */
async function sweepStaleTemps(directory: string, prefix: string): Promise<void> {
  const ours = new RegExp(`^${escapeRegExp(prefix)}[0-9a-f]{12}$`);
  try {
    for await (const entry of Deno.readDir(directory)) {
      if (!entry.isFile || !ours.test(entry.name)) continue;
      const path = `${directory}/${entry.name}`;
      try {
        const mtime = (await Deno.lstat(path)).mtime?.getTime();
        if (mtime !== undefined && Date.now() - mtime > STALE_TEMP_MS) await Deno.remove(path);
      } catch {
        // Gone already, or not ours to remove: leave it.
      }
    }
  } catch {
    // An unlistable directory keeps its leftovers; they cost only space.
  }
}

/** Makes the rename durable; best effort, since not every platform lets a directory be opened. */
async function syncDirectory(directory: string): Promise<void> {
  try {
    using handle = await Deno.open(directory, { read: true });
    await handle.sync();
  } catch {
    // The rename is done; losing it on a power cut leaves the old token, which re-login fixes.
  }
}

/**
 * A warning when the `.env` at `path` can be read or written by group or others (it holds
 * the API secret and the access token); null when it cannot, or does not exist.
 */
export async function checkEnvFileMode(path: string): Promise<string | null> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch {
    return null;
  }
  if (info.mode === null || (info.mode & 0o066) === 0) return null;
  const mode = (info.mode & 0o777).toString(8).padStart(4, "0");
  return `${path} is accessible to group or others (mode ${mode}); run chmod 600 ${path}`;
}
