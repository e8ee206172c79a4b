/**
 * The access token as it sits in Redis: AES-256-GCM under a key derived from the api secret,
 * a random 96-bit IV per seal, the key name as associated data (a sealed token cannot be
 * replayed under another key name). Text form: `v1.<iv base64>.<ciphertext+tag base64>`.
 *
 * @module
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function toBase64(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes));
}

function fromBase64(text: string): Uint8Array<ArrayBuffer> | null {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text)) return null;
  try {
    return Uint8Array.from(atob(text), (char) => char.charCodeAt(0));
  } catch {
    return null;
  }
}

/** Seals `token` for the Redis key `keyName` under `key` (AES-GCM). */
export async function sealToken(
  token: string,
  options: { key: CryptoKey; keyName: string },
): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const sealed = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: encoder.encode(options.keyName) },
    options.key,
    encoder.encode(token),
  );
  return `v1.${toBase64(iv)}.${toBase64(new Uint8Array(sealed))}`;
}

/**
 * Opens what {@linkcode sealToken} made; `null` for anything else (another secret, another
 * key name, a changed byte, not a seal at all).
 */
export async function openToken(
  sealed: string,
  options: { key: CryptoKey; keyName: string },
): Promise<string | null> {
  const [version, ivText, dataText, extra] = sealed.split(".");
  if (version !== "v1" || extra !== undefined) return null;
  const iv = fromBase64(ivText ?? "");
  const data = fromBase64(dataText ?? "");
  if (iv === null || iv.length !== 12 || data === null) return null;
  try {
    const plain = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv, additionalData: encoder.encode(options.keyName) },
      options.key,
      data,
    );
    return decoder.decode(plain);
  } catch {
    return null; // The tag did not verify.
  }
}
