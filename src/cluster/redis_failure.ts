/**
 * What went wrong talking to Redis, in one word and one line: the line an operator reads at
 * start (then exit 2) or in `/status` later, and the word the lease decides on (`refused`
 * means the Redis process is down for every node, anything else may be this node alone).
 *
 * @module
 */

/** Why Redis could not be used. */
export type RedisFailure =
  | "refused"
  | "auth"
  | "not_redis"
  | "unreachable"
  | "timeout";

/** A failure and the line that explains it; `line` never holds the URL's password. */
export interface RedisProblem {
  readonly failure: RedisFailure;
  readonly line: string;
}

const AUTH_REPLY = /^(WRONGPASS|NOAUTH|NOPERM)\b|invalid password|AUTH <password> called without/i;

function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/**
 * Names `error` (thrown by the Redis client or its socket) for `where` (a redacted URL).
 * `connecting` says whether the link was ever up: a connection closed before any answer
 * came is a server that does not speak Redis; one closed later is a dropped link.
 */
export function describeRedisFailure(
  error: unknown,
  options: { where: string; connecting: boolean },
): RedisProblem {
  const { where } = options;
  const message = error instanceof Error ? error.message : String(error);
  const code = codeOf(error);
  if (code === "ECONNREFUSED") {
    return { failure: "refused", line: `Redis at ${where} refused the connection (not running?)` };
  }
  if (AUTH_REPLY.test(message)) {
    const reply = message.split(/\s+/)[0] ?? "";
    return {
      failure: "auth",
      line:
        `Redis at ${where} refused our credentials (${reply}): check the password in KITEKEEPER_REDIS_URL`,
    };
  }
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") {
    return {
      failure: "unreachable",
      line: `Failed to resolve the Redis host of ${where}: ${code}`,
    };
  }
  const name = error instanceof Error ? error.constructor.name : "";
  if (
    name === "ConnectionTimeoutError" || name === "TimeoutError" || /timed? ?out/i.test(message)
  ) {
    return { failure: "timeout", line: `Redis at ${where} did not answer in time` };
  }
  if (
    /protocol error|parser|unexpected (type|character)/i.test(message) ||
    (options.connecting && name === "SocketClosedUnexpectedlyError")
  ) {
    return {
      failure: "not_redis",
      line: `The server at ${where} does not speak the Redis protocol (is it Redis?)`,
    };
  }
  const detail = code ?? (message.split("\n")[0] ?? "").slice(0, 120);
  return { failure: "unreachable", line: `Failed to reach Redis at ${where}: ${detail}` };
}
