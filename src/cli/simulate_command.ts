/**
 * `kitekeeper simulate`: runs the simulator until SIGINT or SIGTERM. `--market-hours` makes
 * prices move only in NSE's pre-open and open phases (IST), as on Kite; by default the
 * simulated market never closes.
 *
 * @module
 */
import { listenFlag, parseFlags, stringFlag } from "./parse_flags.ts";
import { UsageError } from "./usage_error.ts";
import { startSimulator } from "../simulator/simulator.ts";

const FLAGS = {
  listen: { type: "string" },
  "api-key": { type: "string" },
  "api-secret": { type: "string" },
  "user-id": { type: "string" },
  password: { type: "string" },
  "redirect-url": { type: "string" },
  "tick-ms": { type: "string" },
  "market-hours": { type: "boolean" },
} as const;

function tickMs(text: string): number {
  const ms = Number(text);
  if (!Number.isInteger(ms) || ms <= 0) {
    throw new UsageError(`Failed to parse --tick-ms "${text}": expected a whole number > 0`);
  }
  return ms;
}

function redirectUrl(text: string): string {
  if (!URL.canParse(text)) {
    throw new UsageError(`Failed to parse --redirect-url "${text}": expected an absolute URL`);
  }
  return text;
}

/**
 * Runs `simulate` with its flags; prints `simulator ready http://HOST:PORT` once listening,
 * and returns 0 after a signal closed it cleanly.
 *
 * @throws {UsageError} for an unknown, missing or malformed flag.
 */
export async function simulateCommand(args: readonly string[]): Promise<number> {
  const flags = parseFlags(args, FLAGS);
  const { hostname, port } = listenFlag(stringFlag(flags, "listen"));
  const options = {
    apiKey: stringFlag(flags, "api-key"),
    apiSecret: stringFlag(flags, "api-secret"),
    userId: stringFlag(flags, "user-id"),
    password: stringFlag(flags, "password"),
    redirectUrl: redirectUrl(stringFlag(flags, "redirect-url")),
    tickMs: tickMs(stringFlag(flags, "tick-ms", { fallback: "250" })),
    marketHours: flags["market-hours"] === true,
  };
  const simulator = await startSimulator({ ...options, hostname, port });
  const stopped = Promise.withResolvers<Deno.Signal>();
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  const handlers = signals.map((signal) => {
    const handler = () => stopped.resolve(signal);
    Deno.addSignalListener(signal, handler);
    return [signal, handler] as const;
  });
  console.log(`simulator ready ${simulator.url}`);
  const signal = await stopped.promise;
  for (const [name, handler] of handlers) Deno.removeSignalListener(name, handler);
  await simulator.close();
  console.error(`simulator stopped (${signal})`);
  return 0;
}
