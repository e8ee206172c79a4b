/**
 * `HOST:PORT` addresses: parsed from flags and `.env`, written back as text and as the
 * `http://` origin a client dials. IPv6 hosts go in brackets (`[::1]:8000`).
 *
 * @module
 */

/** Where to listen or connect. */
export interface HostPort {
  readonly hostname: string;
  /** 0 asks for any free port. */
  readonly port: number;
}

const HOST_PORT = /^(?:\[([^\]]+)\]|([^:\s]+)):(\d{1,5})$/;

/** Splits `HOST:PORT` (or `[v6]:PORT`); `null` when `text` is not that, or the port > 65535. */
export function parseHostPort(text: string): HostPort | null {
  const match = HOST_PORT.exec(text);
  const hostname = match?.[1] ?? match?.[2];
  const port = Number(match?.[3]);
  if (hostname === undefined || !Number.isInteger(port) || port > 65535) return null;
  return { hostname, port };
}

/** `host:port`, with an IPv6 host in brackets. */
export function hostPortText(hostname: string, port: number): string {
  return `${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}`;
}

/** `http://host:port`, with an IPv6 host in brackets. */
export function httpOrigin(hostname: string, port: number): string {
  return `http://${hostPortText(hostname, port)}`;
}

/** The host a client dials to reach a listener on `hostname`: a wildcard means loopback. */
export function dialHost(hostname: string): string {
  return hostname === "0.0.0.0" ? "127.0.0.1" : hostname === "::" ? "::1" : hostname;
}
