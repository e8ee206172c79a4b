import assert from "node:assert/strict";
import { deriveClusterSecrets } from "../../../src/cluster/secret_keys.ts";
import { openToken, sealToken } from "../../../src/cluster/token_seal.ts";

const TOKEN = "abcdefghijklmnopqrstuvwxyz012345";
const keyName = "kitekeeper:c:token";

Deno.test("sealToken() opens with the same api secret and hides the token", async () => {
  const { tokenKey } = await deriveClusterSecrets("secret-1", "c");
  const sealed = await sealToken(TOKEN, { key: tokenKey, keyName });
  assert.ok(!sealed.includes(TOKEN));
  assert.match(sealed, /^v1\.[A-Za-z0-9+/=]+\.[A-Za-z0-9+/=]+$/);
  const other = await deriveClusterSecrets("secret-1", "c"); // Another node, same secret.
  assert.equal(await openToken(sealed, { key: other.tokenKey, keyName }), TOKEN);
});

Deno.test("sealToken() uses a fresh IV: the same token seals differently each time", async () => {
  const { tokenKey } = await deriveClusterSecrets("secret-1", "c");
  const a = await sealToken(TOKEN, { key: tokenKey, keyName });
  const b = await sealToken(TOKEN, { key: tokenKey, keyName });
  assert.notEqual(a.split(".")[1], b.split(".")[1]);
});

Deno.test("openToken() refuses another secret, cluster, key name, a changed byte, or junk", async () => {
  const { tokenKey } = await deriveClusterSecrets("secret-1", "c");
  const sealed = await sealToken(TOKEN, { key: tokenKey, keyName });
  const wrongSecret = (await deriveClusterSecrets("secret-2", "c")).tokenKey;
  const wrongCluster = (await deriveClusterSecrets("secret-1", "d")).tokenKey;
  assert.equal(await openToken(sealed, { key: wrongSecret, keyName }), null);
  assert.equal(await openToken(sealed, { key: wrongCluster, keyName }), null);
  assert.equal(await openToken(sealed, { key: tokenKey, keyName: "kitekeeper:d:token" }), null);
  const [v, iv, data] = sealed.split(".") as [string, string, string];
  const flipped = (data[0] === "A" ? "B" : "A") + data.slice(1);
  assert.equal(await openToken(`${v}.${iv}.${flipped}`, { key: tokenKey, keyName }), null);
  for (const junk of ["", "v1", "v2.a.b", `${sealed}.x`, "v1.!!!.???", TOKEN]) {
    assert.equal(await openToken(junk, { key: tokenKey, keyName }), null, junk);
  }
});

Deno.test("deriveClusterSecrets() makes keys that cannot be exported and refuses an empty secret", async () => {
  const { tokenKey, stateKey } = await deriveClusterSecrets("s", "c");
  assert.equal(tokenKey.extractable, false);
  assert.equal(stateKey.extractable, false);
  await assert.rejects(() => deriveClusterSecrets("", "c"), TypeError);
});
