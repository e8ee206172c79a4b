/**
 * The access token in a parsed `.env`, checked against the configured pattern.
 *
 * @module
 */
import { type TokenKey, tokenKeyIn } from "./env_file.ts";

/** What {@linkcode readToken} found; `detail` never contains the token. */
export type TokenRead =
  | { readonly kind: "valid"; readonly token: string; readonly key: TokenKey }
  | { readonly kind: "absent" }
  | { readonly kind: "invalid"; readonly key: TokenKey; readonly detail: string };

/**
 * The access token in the parsed `.env` values, checked against `pattern`. The key is the
 * first of `KITE_ACCESS_TOKEN`, `ZERODHA_ACCESS_TOKEN` that has a value. An `invalid`
 * result's `detail` describes the value (length, whitespace) without quoting it.
 *
 * @example
 * ```ts
 * const read = readToken(values, config.tokenPattern);
 * if (read.kind === "valid") actor.send({ type: "TokenLoaded", token: read.token, source: "file" });
 * ```
 */
export function readToken(
  fileValues: Readonly<Record<string, string>>,
  pattern: RegExp,
): TokenRead {
  const key = tokenKeyIn(fileValues);
  const token = fileValues[key];
  if (token === undefined) return { kind: "absent" };
  if (token === "") return { kind: "invalid", key, detail: `${key} is empty` };
  pattern.lastIndex = 0;
  if (pattern.test(token)) return { kind: "valid", token, key };
  const hint = /\s/.test(token) ? " (it contains whitespace)" : "";
  return {
    kind: "invalid",
    key,
    detail: `${key} is ${token.length} characters${hint}; expected ${pattern.source}`,
  };
}
