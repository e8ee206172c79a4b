/**
 * A short, stable name for a secret: what logs, errors and `/status` show instead of a token.
 *
 * @module
 */

const HEX_DIGITS = 12;

/**
 * The first 12 hex digits of the SHA-256 of `token`: enough to tell tokens apart, useless
 * for recovering one.
 *
 * @example
 * ```ts
 * const name = await fingerprint(token); // e.g. "3f1c0a9b27de"
 * ```
 */
export async function fingerprint(token: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token));
  let hex = "";
  for (const byte of new Uint8Array(digest, 0, HEX_DIGITS / 2)) {
    hex += byte.toString(16).padStart(2, "0");
  }
  return hex;
}
