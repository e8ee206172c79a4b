/**
 * Kite Connect session calls: the login URL, the request_token exchange (through the official
 * `kiteconnect` client), the profile probe and token invalidation.
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

/** What `GET /user/profile` said about a token. */
export type ProfileResult =
  | { readonly kind: "ok"; readonly userId: string }
  | { readonly kind: "auth"; readonly detail: string }
  | { readonly kind: "error"; readonly detail: string };

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
function parseIstTime(text: unknown, fallback: number): number {
  if (typeof text !== "string") return fallback;
  const ms = parseIstWallClock(text);
  return Number.isFinite(ms) ? ms : fallback;
}

function asKiteError(error: unknown): KiteApiError {
  if (typeof error === "object" && error !== null) {
    const { message, error_type: errorType } = error as Record<string, unknown>;
    return new KiteApiError(
      typeof message === "string" ? message : "Unknown error",
      typeof errorType === "string" ? errorType : "GeneralException",
    );
  }
  return new KiteApiError(String(error), "GeneralException");
}

/**
 * Exchanges a request_token for an access token with the official client's
 * `generateSession`. Rejects with {@linkcode KiteApiError} carrying Kite's message only (the
 * client's own errors can hold the request body, so nothing else is kept).
 */
export async function exchangeRequestToken(
  requestToken: string,
  options: KiteEndpoint & { apiSecret: string; now?: () => number },
): Promise<KiteSession> {
  const now = options.now ?? Date.now;
  // Loaded on first use: the official client and its Node-compat dependencies cost ~8 MB of
  // RSS, and a daemon that never sees a login (a token pasted by hand) never needs them.
  const { KiteConnect } = await import("kiteconnect");
  const client = new KiteConnect({ api_key: options.apiKey, root: options.apiRoot });
  let session: Record<string, unknown>;
  try {
    session = await client.generateSession(requestToken, options.apiSecret) as Record<
      string,
      unknown
    >;
  } catch (error: unknown) {
    throw asKiteError(error);
  }
  const accessToken = session["access_token"];
  const userId = session["user_id"];
  if (typeof accessToken !== "string" || typeof userId !== "string") {
    throw new KiteApiError("Kite's session has no access_token or user_id", "DataException");
  }
  return { accessToken, userId, loginTime: parseIstTime(session["login_time"], now()) };
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
    if (response.status === 401 || response.status === 403) {
      return { kind: "auth", detail: String(body?.["message"] ?? `HTTP ${response.status}`) };
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
