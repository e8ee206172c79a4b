/**
 * A short, stable name for a secret: what logs, errors and `/status` show instead of a token.
 *
 * @module
 */
import { createHash } from "node:crypto";

const HEX_DIGITS = 12;

/**
 * The first 12 hex digits of the SHA-256 of `token`: enough to tell tokens apart, useless
 * for recovering one.
 *
 * @example
 * ```ts
 * const name = fingerprint(token); // e.g. "3f1c0a9b27de"
 * ```
 */
export function fingerprint(token: string): string {
  return createHash("sha256").update(token).digest("hex").slice(0, HEX_DIGITS);
}
