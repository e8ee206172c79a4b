import assert from "node:assert/strict";
import { clusterKeys } from "../../../src/cluster/cluster_keys.ts";
import { connectRedis, type RedisLink } from "../../../src/cluster/redis_link.ts";
import { deriveClusterSecrets } from "../../../src/cluster/secret_keys.ts";
import { shareLoginStates } from "../../../src/cluster/shared_login_states.ts";
import { startRedisServer } from "../../../src/testing/redis_server.ts";
import { createLoginStates, type LoginStates } from "../../../src/token/login_state.ts";
import { needsRedis } from "../../_support/redis_fixture.ts";

const keys = clusterKeys("c");

/** One node's login states: its own signer with the cluster's key, shared through `link`. */
async function nodeStates(secret: string, link: RedisLink): Promise<LoginStates> {
  const { stateKey } = await deriveClusterSecrets(secret, "c");
  return shareLoginStates(await createLoginStates({ key: stateKey }), link, { keys });
}

Deno.test({
  ...needsRedis("shareLoginStates() a state issued on one node is good once on any node"),
  async fn() {
    await using server = await startRedisServer();
    const links = [await connectRedis(server.url), await connectRedis(server.url)];
    try {
      const a = await nodeStates("secret", links[0]!);
      const b = await nodeStates("secret", links[1]!);
      const first = await a.issue();
      assert.equal(await b.consume(first), "ok", "the callback landed on b");
      assert.equal(await a.consume(first), "reused", "then on a");
      assert.equal(await b.consume(first), "reused");

      const second = await a.issue();
      assert.equal(await a.consume(second), "ok", "the callback landed on its issuer");
      assert.equal(await b.consume(second), "reused");

      // Another api secret signs differently: forged everywhere.
      const stranger = await nodeStates("other secret", links[0]!);
      assert.equal(await b.consume(await stranger.issue()), "forged");
      assert.equal(await b.consume(undefined), "missing");
    } finally {
      for (const link of links) await link.close();
    }
  },
});

Deno.test({
  ...needsRedis("shareLoginStates() with Redis down a node still accepts its own states"),
  async fn() {
    await using server = await startRedisServer();
    const link = await connectRedis(server.url);
    try {
      const states = await nodeStates("secret", link);
      const issuedBefore = await states.issue();
      await server.stop();
      const issuedDuring = await states.issue();
      assert.equal(await states.consume(issuedBefore), "ok");
      assert.equal(await states.consume(issuedDuring), "ok");
      assert.equal(await states.consume(issuedDuring), "reused");
    } finally {
      await link.close();
    }
  },
});
