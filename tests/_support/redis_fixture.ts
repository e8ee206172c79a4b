/**
 * Tests against a real redis-server: skipped, saying why, where it is not installed.
 *
 * @module
 */
import { hasRedisServer } from "../../src/testing/redis_server.ts";

const installed = await hasRedisServer();
if (!installed) {
  console.log("redis-server is not installed (Debian package redis-server): cluster tests skip");
}

/** `Deno.test` options that skip a test when redis-server is missing. */
export function needsRedis(name: string): { name: string; ignore: boolean } {
  return { name, ignore: !installed };
}

/** Resolves once `check()` holds, checking every 10 ms; rejects after `timeoutMs` naming `what`. */
export async function eventually(
  what: string,
  check: () => boolean | Promise<boolean>,
  options: { timeoutMs?: number } = {},
): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 5_000);
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** The error `body` rejects with; fails when it resolves. */
export async function rejection(body: () => Promise<unknown>): Promise<Error> {
  try {
    await body();
  } catch (error: unknown) {
    if (error instanceof Error) return error;
    throw new Error(`Rejected with a non-Error: ${String(error)}`);
  }
  throw new Error("Expected a rejection, but it resolved");
}
