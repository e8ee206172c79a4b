import assert from "node:assert/strict";
import { connectRedis, redactRedisUrl } from "../../../src/cluster/redis_link.ts";
import { startRedisServer } from "../../../src/testing/redis_server.ts";
import { freePort } from "../../../src/testing/simulator_env.ts";
import { eventually, needsRedis, rejection } from "../../_support/redis_fixture.ts";

const PASSWORD = "s3cret-pw";

Deno.test({
  ...needsRedis("connectRedis() authenticates and sends commands with their replies"),
  async fn() {
    await using server = await startRedisServer({ password: PASSWORD });
    const link = await connectRedis(server.url);
    try {
      assert.equal(await link.send(["SET", "k", "v", "NX", "PX", "5000"]), "OK");
      assert.equal(await link.send(["SET", "k", "v", "NX", "PX", "5000"]), null);
      assert.equal(await link.send(["INCR", "n"]), 1);
      assert.equal(link.problem(), null);
      assert.equal(link.where, `redis://127.0.0.1:${server.port}`);
    } finally {
      await link.close();
    }
  },
});

Deno.test({
  ...needsRedis("connectRedis() names a wrong password in one line without the password"),
  async fn() {
    await using server = await startRedisServer({ password: PASSWORD });
    const wrong = `redis://:not-it@127.0.0.1:${server.port}`;
    const error = await rejection(() => connectRedis(wrong));
    assert.ok(error.message.includes("WRONGPASS"), error.message);
    assert.ok(error.message.includes("KITEKEEPER_REDIS_URL"), error.message);
    assert.ok(!error.message.includes("not-it"), error.message);
    assert.ok(!error.message.includes("\n"));
    const none = await rejection(() => connectRedis(`redis://127.0.0.1:${server.port}`));
    assert.ok(none.message.includes("NOAUTH"), none.message);
  },
});

Deno.test("connectRedis() says a closed port refused the connection", async () => {
  const error = await rejection(
    () => connectRedis(`redis://127.0.0.1:${freePort()}`, { connectTimeoutMs: 1_000 }),
  );
  assert.ok(error.message.includes("refused the connection"), error.message);
});

Deno.test("connectRedis() says an HTTP server is not Redis", async () => {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => new Response("no"),
  );
  try {
    const error = await rejection(
      () => connectRedis(`redis://127.0.0.1:${server.addr.port}`, { connectTimeoutMs: 1_000 }),
    );
    assert.ok(error.message.includes("does not speak the Redis protocol"), error.message);
  } finally {
    await server.shutdown();
  }
});

Deno.test("connectRedis() gives up on a server that never answers", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) held.push(conn);
  })();
  try {
    const port = (listener.addr as Deno.NetAddr).port;
    const error = await rejection(
      () => connectRedis(`redis://127.0.0.1:${port}`, { connectTimeoutMs: 300 }),
    );
    assert.ok(error.message.includes("did not answer in time"), error.message);
  } finally {
    listener.close();
    await accepting.catch(() => {});
    for (const conn of held) conn.close();
  }
});

Deno.test("connectRedis() refuses a URL that is not redis:// before connecting", async () => {
  await assert.rejects(() => connectRedis("http://127.0.0.1:6379"), /scheme http:/);
  await assert.rejects(() => connectRedis("not a url"), /not a URL/);
});

Deno.test("redactRedisUrl() drops user and password", () => {
  assert.equal(redactRedisUrl("rediss://u:p@h.example:6380/2"), "rediss://h.example:6380/2");
});

Deno.test({
  ...needsRedis("a link reports a stopped Redis as refused, then reconnects by itself"),
  async fn() {
    await using server = await startRedisServer();
    const link = await connectRedis(server.url, { reconnectCapMs: 100 });
    try {
      await server.stop();
      await eventually("refused", () => link.problem()?.failure === "refused");
      await assert.rejects(() => link.send(["PING"]));
      await server.start();
      await eventually("reconnected", () => link.problem() === null);
      assert.equal(await link.send(["PING"]), "PONG");
    } finally {
      await link.close();
    }
  },
});

Deno.test({
  ...needsRedis("subscribe() delivers what another connection publishes"),
  async fn() {
    await using server = await startRedisServer();
    const link = await connectRedis(server.url);
    try {
      const got = Promise.withResolvers<string>();
      await link.subscribe("kitekeeper:t:events", got.resolve);
      await link.send(["PUBLISH", "kitekeeper:t:events", "hello"]);
      assert.equal(await got.promise, "hello");
    } finally {
      await link.close();
    }
  },
});
