/**
 * Kite Connect session calls: the login URL, the request_token exchange, the profile probe
 * and token invalidation, over `fetch` with Kite's headers.
 *
 * The exchange reads Kite's raw body, as the official clients' `generateSession` does, but
 * keeps `login_time` as what it is: IST wall time (`"YYYY-MM-DD HH:MM:SS"`). The official JS
 * client turns it into a `Date` in the host's time zone (`formatGenerateSession` in
 * kiteconnect 5.3.0), which is hours off on a host outside India.
 *
 * Only `error_type: TokenException` means a dead token: Kite answers 403 for
 * `PermissionException` too, and a probe must not call a token dead for it.
 *
 * @module
 */
import { parseIstWallClock } from "../market/ist_time.ts";

/** Kite's error body, `{"status":"error","message":…,"error_type":…}`, as an error to catch. */
export class KiteApiError extends Error {
  /** Kite's `error_type`, e.g. `TokenException`, `InputException`, `NetworkException`. */
  readonly errorType: string;
  /** Builds the error from Kite's message and error type. */
  constructor(message: string, errorType: string) {
    super(message);
    this.name = "KiteApiError";
    this.errorType = errorType;
  }
}

/** Where and as whom to call Kite. */
export interface KiteEndpoint {
  /** REST root, e.g. `https://api.kite.trade`. */
  readonly apiRoot: string;
  readonly apiKey: string;
}

/** A session Kite issued for a request_token. */
export interface KiteSession {
  readonly accessToken: string;
  readonly userId: string;
  /** Kite's `login_time` as epoch ms (IST wall time in the body), or the call time. */
  readonly loginTime: number;
}

/**
 * What `GET /user/profile` said about a token: `auth` only for Kite's `TokenException` (the
 * token is dead); any other error, whatever its status, is `error` (the token's fate is
 * unknown).
 */
export type ProfileResult =
  | { readonly kind: "ok"; readonly userId: string }
  | { readonly kind: "auth"; readonly detail: string }
  | { readonly kind: "error"; readonly detail: string };

/** Kite's error body, when `body` is one. */
function kiteErrorOf(body: unknown): { message: string; errorType: string } | null {
  if (typeof body !== "object" || body === null) return null;
  const { status, message, error_type: errorType } = body as Record<string, unknown>;
  if (status !== "error" || typeof errorType !== "string") return null;
  return { message: typeof message === "string" ? message : "", errorType };
}

/** Builds Kite's login URL: `{loginUrl}?v=3&api_key=K&redirect_params=URLENC`. */
export function buildLoginUrl(
  loginUrl: string,
  apiKey: string,
  options: { redirectParams?: Readonly<Record<string, string>> } = {},
): string {
  const url = new URL(loginUrl);
  url.searchParams.set("v", "3");
  url.searchParams.set("api_key", apiKey);
  if (options.redirectParams !== undefined) {
    url.searchParams.set("redirect_params", new URLSearchParams(options.redirectParams).toString());
  }
  return url.toString();
}

// Kite reports login_time as "YYYY-MM-DD HH:MM:SS" in IST.
export function parseIstTime(text: unknown, fallback: number): number {
  if (typeof text !== "string") return fallback;
  const ms = parseIstWallClock(text);
  return Number.isFinite(ms) ? ms : fallback;
}

/**
 * Exchanges a request_token for an access token: `POST /session/token` with the checksum
 * (hex SHA-256 of api_key + request_token + api_secret). Rejects with
 * {@linkcode KiteApiError} carrying Kite's message and error type only (never the request).
 */
export async function exchangeRequestToken(
  requestToken: string,
  options: KiteEndpoint & { apiSecret: string; now?: () => number; timeoutMs?: number },
): Promise<KiteSession> {
  const now = options.now ?? Date.now;
  const digest = await crypto.subtle.digest(
    "SHA-256",
    new TextEncoder().encode(options.apiKey + requestToken + options.apiSecret),
  );
  const checksum = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0"))
    .join("");
  let response: Response;
  try {
    response = await fetch(new URL("/session/token", options.apiRoot), {
      method: "POST",
      headers: { "X-Kite-Version": "3" },
      body: new URLSearchParams({ api_key: options.apiKey, request_token: requestToken, checksum }),
      signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
    });
  } catch (error: unknown) {
    const detail = error instanceof Error ? error.name : "unknown";
    throw new KiteApiError(`Failed to reach Kite: ${detail}`, "NetworkException");
  }
  const body = await response.json().catch(() => null) as Record<string, unknown> | null;
  const error = kiteErrorOf(body);
  if (error !== null || !response.ok) {
    throw new KiteApiError(
      error?.message || `HTTP ${response.status}`,
      error?.errorType ?? "GeneralException",
    );
  }
  const data = body?.["data"] as Record<string, unknown> | undefined;
  const accessToken = data?.["access_token"];
  const userId = data?.["user_id"];
  if (typeof accessToken !== "string" || typeof userId !== "string") {
    throw new KiteApiError("Kite's session has no access_token or user_id", "DataException");
  }
  return { accessToken, userId, loginTime: parseIstTime(data?.["login_time"], now()) };
}

function kiteHeaders(apiKey: string, token: string): HeadersInit {
  return { "X-Kite-Version": "3", "Authorization": `token ${apiKey}:${token}` };
}

/** Asks `GET /user/profile` whether `token` is alive and whose it is; never rejects. */
export async function probeProfile(
  token: string,
  options: KiteEndpoint & { timeoutMs?: number },
): Promise<ProfileResult> {
  try {
    const response = await fetch(new URL("/user/profile", options.apiRoot), {
      headers: kiteHeaders(options.apiKey, token),
      signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
    });
    const body = await response.json().catch(() => null) as Record<string, unknown> | null;
    const error = kiteErrorOf(body);
    if (error?.errorType === "TokenException") {
      return { kind: "auth", detail: `${error.errorType}: ${error.message}` };
    }
    if (error !== null) {
      return {
        kind: "error",
        detail: `Failed to read profile: HTTP ${response.status} ${error.errorType}`,
      };
    }
    const data = body?.["data"] as Record<string, unknown> | undefined;
    if (!response.ok || typeof data?.["user_id"] !== "string") {
      return { kind: "error", detail: `Failed to read profile: HTTP ${response.status}` };
    }
    return { kind: "ok", userId: data["user_id"] };
  } catch (error: unknown) {
    const detail = error instanceof Error ? error.name : "unknown";
    return { kind: "error", detail: `Failed to read profile: ${detail}` };
  }
}

/** Kills `token` upstream (`DELETE /session/token`); resolves to whether Kite said so. */
export async function invalidateToken(
  token: string,
  options: KiteEndpoint & { timeoutMs?: number },
): Promise<boolean> {
  const url = new URL("/session/token", options.apiRoot);
  url.searchParams.set("api_key", options.apiKey);
  url.searchParams.set("access_token", token);
  try {
    const response = await fetch(url, {
      method: "DELETE",
      headers: kiteHeaders(options.apiKey, token),
      signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
    });
    await response.body?.cancel();
    return response.ok;
  } catch {
    return false;
  }
}
