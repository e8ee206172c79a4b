import assert from "node:assert/strict";
import fc from "fast-check";
import type { Snapshot } from "../../src/lifecycle/machine.ts";
import { DEFAULT_REQUEST_LIMITS } from "../../src/http/request_limits.ts";
import { startHarness, waitFor } from "../../src/testing/daemon_harness.ts";

/** The default `KITEKEEPER_TOKEN_PATTERN`, which the harness uses. */
const TOKEN_PATTERN = /^[A-Za-z0-9]{32}$/;
/** Bounded so each property runs in a second or two. */
const CALLBACK_RUNS = 300;
const ENV_RUNS = 120;
/** Stands for a state the daemon really issued; swapped in at run time. */
const GENUINE_STATE = "\u0000genuine-state";
/** Stands for a token the simulator really takes; swapped in at run time. */
const LIVE_TOKEN = "\u0000live-token";

const token = fc.stringMatching(/^[A-Za-z0-9]{32}$/);
const hex = (length: number) => fc.stringMatching(new RegExp(`^[0-9a-f]{${length}}$`));
/** `nonce.issuedAtMs.hmac`, as the daemon issues them, but signed by nobody. */
const lookalikeState = fc.tuple(hex(32), fc.integer({ min: 0, max: 2 ** 45 }), hex(64))
  .map(([nonce, at, mac]) => `${nonce}.${at}.${mac}`);

const callbackValue = fc.oneof(
  { weight: 3, arbitrary: token },
  { weight: 2, arbitrary: lookalikeState },
  { weight: 2, arbitrary: fc.constant(GENUINE_STATE) },
  { weight: 2, arbitrary: fc.constantFrom("success", "login", "cancelled", "", "SUCCESS") },
  { weight: 2, arbitrary: fc.string({ unit: "grapheme", maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: "binary", maxLength: 40 }) },
  // Huge, but within the URL limit once percent-encoded (the limit itself is tested apart).
  { weight: 1, arbitrary: fc.string({ minLength: 500, maxLength: 2000 }) },
);
const callbackKey = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom("state", "request_token", "status", "action", "type") },
  { weight: 1, arbitrary: fc.string({ unit: "grapheme", maxLength: 12 }) },
);
/** Kite's own shape, with each field mostly right, so runs get past the state to the exchange. */
const kiteShaped = fc.record({
  state: fc.oneof({ weight: 3, arbitrary: fc.constant(GENUINE_STATE) }, callbackValue),
  status: fc.oneof({ weight: 3, arbitrary: fc.constant("success") }, callbackValue),
  request_token: callbackValue,
  extra: fc.array(fc.tuple(callbackKey, callbackValue), { maxLength: 3 }),
}).map(({ extra, ...fields }): [string, string][] => [
  ["action", "login"],
  ["type", "login"],
  ...Object.entries(fields),
  ...extra,
]);
/**
 * A query built from pairs (percent-encoded properly), Kite-shaped or not, or raw text with
 * stray `%`, `&`, `=`.
 */
const callbackQuery = fc.oneof(
  { weight: 3, arbitrary: fc.array(fc.tuple(callbackKey, callbackValue), { maxLength: 8 }) },
  { weight: 3, arbitrary: kiteShaped },
  {
    weight: 1,
    arbitrary: fc.array(
      fc.oneof(
        fc.constantFrom("%", "%2", "%zz", "%E0%A4%A", "%FF", "&", "=", "+", "state=", "#", "?"),
        fc.string({ unit: "grapheme", maxLength: 6 }),
        token,
      ),
      { maxLength: 20 },
    ).map((parts) => parts.join("")),
  },
);

Deno.test("arbitrary callback queries never get a 5xx, never write .env, never open a socket", async () => {
  await using h = await startHarness();
  const { daemon, sim } = h;
  const { app } = daemon;
  await waitFor(daemon, "Expired without a token", (s) => s.state.name === "Expired");
  const envBefore = await Deno.readFile(h.envFile);
  const genBefore = daemon.actor.snapshot().gen;
  const handshakesBefore = sim.stats().handshakes;
  const statuses = new Map<number, number>();

  async function genuineState(): Promise<string> {
    const start = await app.request("/api/auth/login");
    const kite = new URL(start.headers.get("location")!);
    return new URLSearchParams(kite.searchParams.get("redirect_params")!).get("state")!;
  }

  await fc.assert(
    fc.asyncProperty(callbackQuery, fc.boolean(), async (query, json) => {
      let search: string;
      if (typeof query === "string") {
        search = query;
      } else {
        const params = new URLSearchParams();
        for (const [key, value] of query) {
          params.append(key, value === GENUINE_STATE ? await genuineState() : value);
        }
        search = params.toString();
      }
      const response = await app.request(`/api/auth/callback?${search}`, {
        headers: { Accept: json ? "application/json" : "text/html" },
      });
      await response.body?.cancel();
      statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
      assert.ok(response.status < 500 || response.status === 502, `status ${response.status}`);
      // 502 is Kite refusing a request_token it never issued: a refusal, not a failure here.
      if (response.status === 502) assert.ok(search.includes("request_token"));
      assert.notEqual(response.status, 302, "no made-up callback logs in");
      assert.deepEqual(await Deno.readFile(h.envFile), envBefore);
      assert.equal(daemon.actor.snapshot().gen, genBefore);
      assert.deepEqual(sim.stats().handshakes, handshakesBefore);
    }),
    { numRuns: CALLBACK_RUNS },
  );
  console.log(`callback statuses over ${CALLBACK_RUNS} runs: ${JSON.stringify([...statuses])}`);
  // The runs reached every check: the state (400), and the exchange with Kite (502).
  assert.ok((statuses.get(400) ?? 0) > 0, JSON.stringify([...statuses]));
  assert.ok((statuses.get(502) ?? 0) > 0, JSON.stringify([...statuses]));
  assert.equal(sim.stats().sessions_active, 0);
  assert.equal((await app.request("/livez")).status, 200);
});

Deno.test("a callback query at the URL limit is refused with 414, not a 5xx, and changes nothing", async () => {
  await using h = await startHarness();
  const envBefore = await Deno.readFile(h.envFile);
  const huge = "é".repeat(DEFAULT_REQUEST_LIMITS.maxUrlLength);
  const response = await h.daemon.app.request(
    `/api/auth/callback?${new URLSearchParams({ status: "success", request_token: huge })}`,
  );
  await response.body?.cancel();
  assert.equal(response.status, 414);
  assert.deepEqual(await Deno.readFile(h.envFile), envBefore);
});

/** A `.env` value as a hand (or a bug) may spell it. */
const envValue = fc.oneof(
  { weight: 3, arbitrary: token },
  { weight: 2, arbitrary: fc.constant(LIVE_TOKEN) },
  {
    weight: 3,
    arbitrary: fc.oneof(
      fc.stringMatching(/^[A-Za-z0-9]{31}$/),
      fc.stringMatching(/^[A-Za-z0-9]{33}$/),
      token.map((t) => `${t.slice(0, 16)} ${t.slice(16)}`),
      token.map((t) => `${t.slice(0, 31)}é`),
    ),
  },
  { weight: 2, arbitrary: fc.string({ unit: "binary", maxLength: 40 }) },
);
const envLine = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.tuple(
      fc.constantFrom("", "export ", " ", "\t"),
      fc.constantFrom("KITE_ACCESS_TOKEN", "ZERODHA_ACCESS_TOKEN", "KITE_API_KEY"),
      fc.constantFrom("=", " = "),
      fc.constantFrom("", '"', "'", "`"),
      envValue,
      fc.constantFrom("", " # old", "#"),
    ).map(([prefix, key, equals, quote, value, comment]) =>
      `${prefix}${key}${equals}${quote}${value}${quote}${comment}`
    ),
  },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 30 }) },
);
/** Whole files: lines in any line-ending style, maybe a BOM, or raw bytes. */
const envBytes = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.tuple(
      fc.boolean(),
      fc.array(envLine, { maxLength: 6 }),
      fc.constantFrom("\n", "\r\n", "\r"),
    ).map(([bom, lines, eol]) => `${bom ? "\uFEFF" : ""}${lines.join(eol)}`),
  },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }) },
  {
    weight: 1,
    arbitrary: fc.tuple(
      fc.uint8Array({ maxLength: 40 }),
      envLine,
      fc.uint8Array({ maxLength: 40 }),
    ),
  },
);

Deno.test("arbitrary .env bytes never crash the daemon nor open a socket with a malformed token", async () => {
  await using h = await startHarness();
  const { daemon, sim } = h;
  const live = sim.issueAccessToken();
  const encoder = new TextEncoder();
  const opened: string[] = [];
  const unsubscribe = daemon.actor.subscribe((snapshot: Snapshot, previous: Snapshot) => {
    // A new generation is a new socket: note the token it was opened with.
    if (snapshot.gen !== previous.gen) opened.push(snapshot.token?.token ?? "(no token)");
  });

  try {
    await fc.assert(
      fc.asyncProperty(envBytes, async (content) => {
        let bytes: Uint8Array;
        if (content instanceof Uint8Array) {
          bytes = content;
        } else if (typeof content === "string") {
          bytes = encoder.encode(content.replaceAll(LIVE_TOKEN, live));
        } else {
          const [head, line, tail] = content;
          const middle = encoder.encode(`\n${line.replaceAll(LIVE_TOKEN, live)}\n`);
          bytes = new Uint8Array([...head, ...middle, ...tail]);
        }
        await Deno.writeFile(h.envFile, bytes);
        // Read now, as SIGHUP does: every write is read at least once, in order.
        await daemon.reload();
        assert.deepEqual(await Deno.readFile(h.envFile), bytes, "a read never writes .env");
        const livez = await daemon.app.request("/livez");
        assert.equal(livez.status, 200);
        await livez.body?.cancel();
        const status = await daemon.app.request("/status");
        assert.ok(status.status === 200 || status.status === 503, `status ${status.status}`);
        await status.body?.cancel();
        const { state } = daemon.actor.snapshot();
        assert.ok(!(state.name === "Disconnected" && state.reason === "stopped"), "still running");
      }),
      { numRuns: ENV_RUNS },
    );
  } finally {
    unsubscribe();
  }

  console.log(`${opened.length} sockets opened over ${ENV_RUNS} .env writes`);
  const malformed = opened.filter((t) => !TOKEN_PATTERN.test(t));
  assert.deepEqual(malformed, [], "every socket was opened with a well-formed token");
  assert.ok(opened.length > 0, "some runs did open sockets (the check above saw some)");

  // Still whole: a good token written by hand brings it Live.
  const fresh = sim.issueAccessToken();
  await Deno.writeTextFile(h.envFile, `KITE_ACCESS_TOKEN=${fresh}\n`);
  await daemon.reload();
  await waitFor(daemon, "Live on a fresh token", (s) => s.state.name === "Live");
  assert.equal(daemon.actor.snapshot().token?.token, fresh);
});
