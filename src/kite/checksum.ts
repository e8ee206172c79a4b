/**
 * The checksum Kite's `POST /session/token` takes: hex SHA-256 of api_key, request_token and
 * api_secret, concatenated. The official client computes it for us; the simulator checks it.
 *
 * @module
 */
import { createHash } from "node:crypto";

/** The session checksum for `requestToken` under `account`. */
export function sessionChecksum(
  requestToken: string,
  account: { readonly apiKey: string; readonly apiSecret: string },
): string {
  return createHash("sha256").update(account.apiKey + requestToken + account.apiSecret)
    .digest("hex");
}
