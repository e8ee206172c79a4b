/**
 * The listener against hostile clients, over real sockets: a request head that does not arrive
 * in time closes the connection, one peer's connections past the cap are closed at once, and
 * neither touches normal requests nor WebSockets. The deadline is made small, and every wait
 * is on a socket: nothing sleeps.
 */
import assert from "node:assert/strict";
import { type HttpListener, listenHttp } from "../../src/http/server.ts";
import { envText, KITE, startHarness, waitFor } from "../../src/testing/daemon_harness.ts";
import { WsProbe } from "../_support/ws_probe.ts";

const HEAD_TIMEOUT_MS = 150;
const encoder = new TextEncoder();

async function listening(options: { maxConnectionsPerPeer?: number } = {}): Promise<HttpListener> {
  const http = await listenHttp({ hostname: "127.0.0.1", port: 0 }, {
    graceMs: 500,
    headTimeoutMs: HEAD_TIMEOUT_MS,
    ...options,
  });
  http.serve({
    fetch(request) {
      if (new URL(request.url).pathname !== "/ws") return new Response("ok");
      const { socket, response } = Deno.upgradeWebSocket(request);
      socket.onmessage = (event) => socket.send(`echo ${event.data}`);
      return response;
    },
  });
  return http;
}

function portOf(http: HttpListener): number {
  return Number(new URL(http.url).port);
}

/** Reads until the server closes; what it sent first (its status line), or how it ended. */
async function untilClosed(conn: Deno.Conn): Promise<string> {
  const buffer = new Uint8Array(4096);
  let text = "";
  // A bound on a hang, so a listener that never closes fails the test instead of hanging it.
  let guard: ReturnType<typeof setTimeout> | undefined;
  const hang = new Promise<string>((resolve) => {
    guard = setTimeout(() => resolve("still open after 10 s"), 10_000);
  });
  const read = (async () => {
    try {
      while (true) {
        const n = await conn.read(buffer);
        if (n === null) return text.split("\r\n")[0] || "closed";
        text += new TextDecoder().decode(buffer.subarray(0, n));
      }
    } catch (error: unknown) {
      return `failed: ${error instanceof Error ? error.name : String(error)}`;
    }
  })();
  try {
    return await Promise.race([read, hang]);
  } finally {
    clearTimeout(guard);
  }
}

async function get(conn: Deno.Conn, path: string): Promise<string> {
  await conn.write(encoder.encode(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`));
  const buffer = new Uint8Array(4096);
  const n = await conn.read(buffer);
  assert.ok(n !== null, "an answer");
  return new TextDecoder().decode(buffer.subarray(0, n));
}

Deno.test("a client sending its request head too slowly is closed at the head deadline", async () => {
  await using http = await listening();
  const slow = await Deno.connect({ hostname: "127.0.0.1", port: portOf(http) });
  try {
    await slow.write(encoder.encode("GET / HTTP/1.1\r\nHost: x\r\nX-Slow: a"));
    // A normal client meanwhile is answered.
    const answer = await fetch(`${http.url}/`);
    assert.equal(await answer.text(), "ok");
    assert.equal(await untilClosed(slow), "closed", "closed without an answer");
  } finally {
    slow.close();
  }
});

Deno.test("an idle kept-alive connection is closed at the deadline after its answer", async () => {
  await using http = await listening();
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: portOf(http) });
  try {
    assert.match(await get(conn, "/"), /^HTTP\/1\.1 200 OK/);
    assert.equal(await untilClosed(conn), "closed");
  } finally {
    conn.close();
  }
});

Deno.test("one peer's 33rd connection is closed at once; its 32 are served", async () => {
  await using http = await listening();
  const port = portOf(http);
  const conns: Deno.Conn[] = [];
  try {
    // Each answered, so each is counted before the next one.
    for (let i = 0; i < 32; i++) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conns.push(conn);
      await conn.write(encoder.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
      assert.ok((await conn.read(new Uint8Array(4096))) !== null);
    }
    const extra = await Deno.connect({ hostname: "127.0.0.1", port });
    conns.push(extra);
    await extra.write(encoder.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n")).catch(() => 0);
    assert.match(await untilClosed(extra), /^(closed|failed: ConnectionReset)$/);
  } finally {
    for (const conn of conns) conn.close();
  }
});

Deno.test("the cap is configurable: with 2, a third connection from the peer is closed", async () => {
  await using http = await listening({ maxConnectionsPerPeer: 2 });
  const port = portOf(http);
  const conns: Deno.Conn[] = [];
  try {
    for (let i = 0; i < 2; i++) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conns.push(conn);
      assert.match(await get(conn, "/"), /^HTTP\/1\.1 200 OK/);
    }
    const third = await Deno.connect({ hostname: "127.0.0.1", port });
    conns.push(third);
    assert.match(await untilClosed(third), /^(closed|failed: ConnectionReset)$/);
  } finally {
    for (const conn of conns) conn.close();
  }
});

Deno.test("a WebSocket outlives the head deadline: the deadline is for heads only", async () => {
  await using http = await listening();
  const ws = new WebSocket(`${http.url.replace("http", "ws")}/ws`);
  try {
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = reject;
    });
    // A slow client's closing shows that a deadline has passed since the upgrade.
    const slow = await Deno.connect({ hostname: "127.0.0.1", port: portOf(http) });
    await slow.write(encoder.encode("GET / HTTP/1.1\r\n"));
    assert.equal(await untilClosed(slow), "closed");
    slow.close();
    const echoed = new Promise((resolve) => ws.onmessage = (event) => resolve(event.data));
    ws.send("ping");
    assert.equal(await echoed, "echo ping");
  } finally {
    const closed = new Promise((resolve) => ws.onclose = resolve);
    ws.close();
    await closed;
  }
});

Deno.test("the daemon's peer cap leaves room for every /ws client on loopback: 40 programs, all served", async () => {
  const clientToken = "strategy-box-0123456789abcdef";
  await using h = await startHarness({
    env: (sim) =>
      envText(sim.url, [
        `KITE_ACCESS_TOKEN=${sim.issueAccessToken()}`,
        `KITEKEEPER_CLIENT_TOKENS=${clientToken}`,
      ]),
  });
  await waitFor(h.daemon, "Live", (s) => s.state.name === "Live");
  const url = `${h.daemon.url.replace("http", "ws")}/ws?api_key=${KITE.apiKey}` +
    `&access_token=${clientToken}`;
  const probes = Array.from({ length: 40 }, () => new WsProbe(url));
  try {
    await Promise.all(probes.map((probe) => probe.opened()));
    const livez = await fetch(`${h.daemon.url}/livez`);
    assert.deepEqual(await livez.json(), { ok: true });
  } finally {
    await Promise.all(probes.map((probe) => probe.close()));
  }
});
