/**
 * The simulator's sessions: request tokens from the login form, access tokens from the
 * exchange, and their deaths (single use, 5-minute expiry, logout, `/_sim/expire`).
 *
 * @module
 */
import { sessionChecksum } from "../kite/checksum.ts";

/** The outcome of exchanging a request token, as the REST route reports it. */
export type Exchange =
  | { readonly kind: "ok"; readonly accessToken: string; readonly publicToken: string }
  | { readonly kind: "bad_checksum" }
  | { readonly kind: "bad_request_token" };

/** How long a request token lives, as on Kite ("a few minutes"). */
export const REQUEST_TOKEN_TTL_MS = 5 * 60 * 1000;

const ALPHANUMERIC = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/** 32 random letters and digits, the shape of Kite's tokens. */
function randomToken(length = 32): string {
  // 248 is the largest multiple of 62 below 256: rejecting above keeps the draw uniform.
  const out: string[] = [];
  while (out.length < length) {
    for (const byte of crypto.getRandomValues(new Uint8Array(length * 2))) {
      if (byte < 248 && out.length < length) out.push(ALPHANUMERIC[byte % 62] as string);
    }
  }
  return out.join("");
}

/** Issues and checks tokens for one api_key and one user. */
export class SessionStore {
  #apiKey: string;
  #apiSecret: string;
  #now: () => number;
  /** request token → when it was issued (epoch ms). */
  #requestTokens = new Map<string, number>();
  #accessTokens = new Set<string>();

  /** `now` gives epoch milliseconds; it decides request token expiry. */
  constructor(options: { apiKey: string; apiSecret: string; now: () => number }) {
    this.#apiKey = options.apiKey;
    this.#apiSecret = options.apiSecret;
    this.#now = options.now;
  }

  /** A fresh request token, as the login form's redirect carries. */
  issueRequestToken(): string {
    const token = randomToken();
    this.#requestTokens.set(token, this.#now());
    return token;
  }

  /** A fresh live access token. */
  issueAccessToken(): string {
    const token = randomToken();
    this.#accessTokens.add(token);
    return token;
  }

  /**
   * Exchanges a request token: checks it is known and fresh, then the checksum
   * (hex SHA-256 of api_key + request_token + api_secret). A bad checksum leaves the
   * request token usable; a good one consumes it.
   */
  exchange(requestToken: string, checksum: string): Exchange {
    const issuedAt = this.#requestTokens.get(requestToken);
    if (issuedAt === undefined) return { kind: "bad_request_token" };
    if (this.#now() - issuedAt > REQUEST_TOKEN_TTL_MS) {
      this.#requestTokens.delete(requestToken);
      return { kind: "bad_request_token" };
    }
    const expected = sessionChecksum(requestToken, {
      apiKey: this.#apiKey,
      apiSecret: this.#apiSecret,
    });
    if (checksum.toLowerCase() !== expected) return { kind: "bad_checksum" };
    this.#requestTokens.delete(requestToken);
    return { kind: "ok", accessToken: this.issueAccessToken(), publicToken: randomToken() };
  }

  /** Whether `apiKey`/`accessToken` make a live session. */
  isLive(apiKey: string, accessToken: string): boolean {
    return apiKey === this.#apiKey && this.#accessTokens.has(accessToken);
  }

  /** How many access tokens are live now: `/_sim/stats` reports it as `sessions_active`. */
  liveCount(): number {
    return this.#accessTokens.size;
  }

  /** Kills one access token (logout); false when it was not live. */
  invalidate(accessToken: string): boolean {
    return this.#accessTokens.delete(accessToken);
  }

  /** Kills every access token, as Kite's daily expiry or a Kite Web logout does; returns how many. */
  expireAll(): number {
    const killed = this.#accessTokens.size;
    this.#accessTokens.clear();
    return killed;
  }
}
