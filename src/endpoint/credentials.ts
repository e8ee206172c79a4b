/**
 * Who may open the Kite-compatible endpoint: the configured api_key, with an access token
 * that is one of the operator's client credentials (`KITEKEEPER_CLIENT_TOKENS`, constant
 * across days) or, for drop-in use, the current Kite access token. Compared in constant
 * time (SHA-256 digests, every candidate checked); nothing here logs or returns a secret.
 *
 * @module
 */
import { timingSafeEqual } from "node:crypto";

/** What the check needs. */
export interface CredentialOptions {
  readonly apiKey: string;
  /** The operator's client credentials. */
  readonly clientTokens: readonly string[];
  /** The current Kite access token, if any. */
  currentToken(): string | null;
}

/** Checks an upgrade's `api_key` and `access_token`. */
export type CredentialCheck = (apiKey: string, accessToken: string) => Promise<boolean>;

const encoder = new TextEncoder();

async function sha256(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(text)));
}

/** The check for `options`; client credentials are digested once, up front. */
export function credentialCheck(options: CredentialOptions): CredentialCheck {
  const apiKey = sha256(options.apiKey);
  const clientTokens = Promise.all(options.clientTokens.map(sha256));
  return async function check(presentedKey, presentedToken) {
    const [key, token] = await Promise.all([sha256(presentedKey), sha256(presentedToken)]);
    const current = options.currentToken();
    const candidates = [...await clientTokens];
    if (current !== null && current !== "") candidates.push(await sha256(current));
    let tokenOk = false;
    // Every candidate is compared, so the time taken does not say which one matched.
    for (const candidate of candidates) tokenOk = timingSafeEqual(candidate, token) || tokenOk;
    return timingSafeEqual(await apiKey, key) && tokenOk && presentedToken !== "";
  };
}
