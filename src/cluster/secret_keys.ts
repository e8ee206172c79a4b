/**
 * Keys every node of a cluster derives alike from `KITE_API_SECRET` (HKDF-SHA-256, WebCrypto):
 * one seals the shared access token (AES-GCM), one signs login states (HMAC). A Redis reader
 * without the api secret can neither read the token nor forge a state. Non-extractable.
 *
 * @module
 */

/** The derived keys of one cluster. */
export interface ClusterSecrets {
  /** AES-256-GCM, for the token in Redis. */
  readonly tokenKey: CryptoKey;
  /** HMAC-SHA-256, for login states any node can check. */
  readonly stateKey: CryptoKey;
}

const encoder = new TextEncoder();

/** Derives the cluster's keys from the api secret; `cluster` salts them, so clusters differ. */
export async function deriveClusterSecrets(
  apiSecret: string,
  cluster: string,
): Promise<ClusterSecrets> {
  if (apiSecret === "") throw new TypeError("Failed to derive cluster keys: empty api secret");
  const base = await crypto.subtle.importKey("raw", encoder.encode(apiSecret), "HKDF", false, [
    "deriveKey",
  ]);
  function hkdf(info: string) {
    return {
      name: "HKDF",
      hash: "SHA-256",
      salt: encoder.encode(`kitekeeper:${cluster}`),
      info: encoder.encode(info),
    };
  }
  const tokenKey = await crypto.subtle.deriveKey(
    hkdf("kitekeeper token seal v1"),
    base,
    { name: "AES-GCM", length: 256 },
    false,
    ["encrypt", "decrypt"],
  );
  const stateKey = await crypto.subtle.deriveKey(
    hkdf("kitekeeper login state v1"),
    base,
    { name: "HMAC", hash: "SHA-256", length: 256 },
    false,
    ["sign", "verify"],
  );
  return { tokenKey, stateKey };
}
