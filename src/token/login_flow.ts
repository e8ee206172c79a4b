/**
 * The login callback, as a sequence of checks that each either refuses with a reason or
 * passes: the login state, Kite's status, the request_token exchange, the user pin; then the
 * hand-over to the lifecycle, and the `.env` write. A token of an unexpected shape is a
 * warning, not a refusal: Kite's session is real once the exchange succeeded.
 * Nothing is written unless every check passed.
 *
 * @module
 */
import type { StateCheck } from "./login_state.ts";
import { KiteApiError, type KiteSession } from "../kite/session.ts";

/** The callback's query parameters, as Kite sends them back. */
export interface CallbackQuery {
  readonly request_token?: string | undefined;
  readonly status?: string | undefined;
  readonly action?: string | undefined;
  readonly type?: string | undefined;
  readonly state?: string | undefined;
}

/** What the callback flow needs from the rest of the daemon. */
export interface CallbackDeps {
  /** Checks and consumes the login state. */
  consumeState(state: string | undefined): Promise<StateCheck>;
  /** Exchanges the request_token with Kite; rejects with `KiteApiError`. */
  exchange(requestToken: string): Promise<KiteSession>;
  /** Kills a token upstream (used for a session of the wrong user). */
  invalidate(token: string): Promise<boolean>;
  /** Hands the new token to the lifecycle, before it is written; the redirect waits for it. */
  deliver(session: KiteSession): Promise<void> | void;
  /**
   * Writes the delivered session's token into `.env`; rejects with `Failed to write .env: …`
   * (the session stays in use, and the caller tells the operator `.env` is stale).
   */
  persist(session: KiteSession): Promise<void>;
  /** The pinned user, when one is set. */
  readonly pinnedUserId: string | undefined;
  /** What a Kite access token looks like; a session's token that does not is still used. */
  readonly tokenPattern: RegExp;
  /** Tells the operator something is odd but not fatal (a token of an unexpected shape). */
  warn(message: string): void;
}

/** Why a callback was refused: an HTTP status and a message naming what was wrong. */
export interface CallbackRefusal {
  readonly kind: "refused";
  readonly status: 400 | 403 | 502;
  /** A short machine-readable code, e.g. `state_reused`. */
  readonly code: string;
  readonly message: string;
}

/** How the callback ended; `envStale` says why `.env` does not hold the new token. */
export type CallbackOutcome =
  | { readonly kind: "ok"; readonly userId: string; readonly envStale?: string }
  | CallbackRefusal;

const STATE_MESSAGES: Record<Exclude<StateCheck, "ok">, string> = {
  missing: "The login state is missing: start again from /api/auth/login",
  forged: "The login state was not issued by this kitekeeper",
  expired: "The login state has expired (10 minutes): start again from /api/auth/login",
  reused: "The login state was already used: start again from /api/auth/login",
};

function refuse(status: CallbackRefusal["status"], code: string, message: string): CallbackRefusal {
  return { kind: "refused", status, code, message };
}

/** Runs the callback for `query`; never rejects, never writes `.env` on a refusal. */
export async function completeLogin(
  query: CallbackQuery,
  deps: CallbackDeps,
): Promise<CallbackOutcome> {
  const check = await deps.consumeState(query.state);
  if (check !== "ok") return refuse(400, `state_${check}`, STATE_MESSAGES[check]);
  if (query.status !== "success") {
    return refuse(400, "login_not_successful", `Kite reported status "${query.status ?? ""}"`);
  }
  if (query.request_token === undefined || query.request_token === "") {
    return refuse(400, "request_token_missing", "The callback carries no request_token");
  }

  let session: KiteSession;
  try {
    session = await deps.exchange(query.request_token);
  } catch (error: unknown) {
    const message = error instanceof KiteApiError
      ? `Kite refused the request_token: ${error.message} (${error.errorType})`
      : "Failed to exchange the request_token";
    return refuse(502, "exchange_failed", message);
  }

  if (deps.pinnedUserId !== undefined && session.userId !== deps.pinnedUserId) {
    await deps.invalidate(session.accessToken);
    return refuse(
      403,
      "wrong_user",
      `Logged in as ${session.userId}, but this kitekeeper is pinned to ${deps.pinnedUserId}; ` +
        "that session was invalidated",
    );
  }
  deps.tokenPattern.lastIndex = 0;
  if (!deps.tokenPattern.test(session.accessToken)) {
    // Kite has consumed the request_token: dropping its session would cost a second login.
    deps.warn(
      `Kite returned an access token (${session.accessToken.length} characters) that does ` +
        `not match KITEKEEPER_TOKEN_PATTERN ${deps.tokenPattern.source}; it is written and ` +
        "used anyway. Widen the pattern, or a restart will not take it from .env",
    );
  }

  // The feed need not wait for the write and its fsyncs: the token is handed over first, and
  // the watcher's read of the write finds the token in use (nothing reopens).
  await deps.deliver(session);
  let envStale: string | undefined;
  try {
    await deps.persist(session);
  } catch (error: unknown) {
    // Kept and used rather than invalidated: the session is good, and killing it would take
    // the feed down over a file the operator can fix while it runs.
    envStale = error instanceof Error ? error.message : String(error);
  }
  return envStale === undefined
    ? { kind: "ok", userId: session.userId }
    : { kind: "ok", userId: session.userId, envStale };
}
