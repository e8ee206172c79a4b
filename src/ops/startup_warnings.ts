/**
 * What the daemon tells the operator at start about its exposure: pure, so every case is
 * tested without binding a socket.
 *
 * @module
 */
import type { Config } from "../config.ts";
import { hostPortText } from "../host_port.ts";

/** Whether `hostname` reaches only this machine: `localhost`, 127.0.0.0/8, `::1`. */
export function isLoopbackHost(hostname: string): boolean {
  const bare = hostname.replace(/^\[|\]$/g, "").toLowerCase();
  return bare === "localhost" || bare === "::1" ||
    /^(?:::ffff:)?127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bare);
}

/**
 * The warnings to print at start, one line each: today, one when the login callback is
 * reachable from other machines (the listen address is not loopback) and `KITE_USER_ID` is
 * unset, so whoever logs in first, as any Kite user, gets their token into `.env`.
 *
 * @example
 * ```ts
 * for (const warning of startupWarnings(config)) console.error(`warning: ${warning}`);
 * ```
 */
export function startupWarnings(config: Pick<Config, "listen" | "userId">): string[] {
  const warnings: string[] = [];
  const { hostname, port } = config.listen;
  if (config.userId === undefined && !isLoopbackHost(hostname)) {
    warnings.push(
      `KITE_USER_ID is unset and kitekeeper listens on ${
        hostPortText(hostname, port)
      }, beyond loopback: ` +
        "any Kite user who completes a login here replaces the token; set KITE_USER_ID",
    );
  }
  return warnings;
}
