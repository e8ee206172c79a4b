/**
 * The `.env` that points kitekeeper at a simulator, shared by the demo, the test harness and
 * the scripts, so there is one rule for where the simulator's routes are.
 *
 * @module
 */

/** The simulator account a `.env` names. */
export interface SimulatorAccount {
  readonly apiKey: string;
  readonly apiSecret: string;
}

/** The `KITE_*` settings for the simulator at `simUrl` (`http://HOST:PORT`) and `account`. */
export function simulatorEnv(
  simUrl: string,
  account: SimulatorAccount,
): Record<string, string> {
  return {
    KITE_API_KEY: account.apiKey,
    KITE_API_SECRET: account.apiSecret,
    KITE_API_ROOT: simUrl,
    KITE_LOGIN_URL: `${simUrl}/connect/login`,
    KITE_TICKER_URL: `${simUrl.replace("http", "ws")}/ws`,
  };
}

/** `values` as `.env` lines, `KEY=value`, in order (values are written as given, unquoted). */
export function envLines(values: Readonly<Record<string, string>>): string[] {
  return Object.entries(values).map(([key, value]) => `${key}=${value}`);
}

/** Reserves a free port on `hostname` (default loopback) and gives it straight back. */
export function freePort(options: { hostname?: string } = {}): number {
  const listener = Deno.listen({ hostname: options.hostname ?? "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}
