import assert from "node:assert/strict";
import { exchangeRequestToken, KiteApiError, probeProfile } from "../../../src/kite/session.ts";

/** A one-route Kite stand-in on loopback that records what it was sent. */
async function withKite(
  answer: (request: Request, form: URLSearchParams) => Response,
  fn: (apiRoot: string, seen: URLSearchParams[]) => Promise<void>,
): Promise<void> {
  const seen: URLSearchParams[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    const form = new URLSearchParams(request.method === "POST" ? await request.text() : "");
    seen.push(form);
    return answer(request, form);
  });
  try {
    await fn(`http://127.0.0.1:${server.addr.port}`, seen);
  } finally {
    await server.shutdown();
  }
}

const KEY = "kk_key";

Deno.test("exchangeRequestToken() posts Kite's checksum and reads login_time as IST, whatever the host's zone", async () => {
  await withKite(
    () =>
      Response.json({
        status: "success",
        data: {
          user_id: "AB1234",
          access_token: "t".repeat(32),
          // What Kite sends: IST wall time, no zone.
          login_time: "2024-03-11 09:15:42",
        },
      }),
    async (apiRoot, seen) => {
      const session = await exchangeRequestToken("rt123", {
        apiRoot,
        apiKey: KEY,
        apiSecret: "s3",
      });
      assert.equal(session.loginTime, Date.UTC(2024, 2, 11, 3, 45, 42));
      assert.equal(session.userId, "AB1234");
      const form = seen[0]!;
      assert.equal(form.get("api_key"), KEY);
      assert.equal(form.get("request_token"), "rt123");
      const digest = await crypto.subtle.digest(
        "SHA-256",
        new TextEncoder().encode(`${KEY}rt123s3`),
      );
      const hex = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
      assert.equal(form.get("checksum"), hex);
    },
  );
});

Deno.test("exchangeRequestToken() rejects with Kite's message and error type only", async () => {
  await withKite(
    () =>
      Response.json({
        status: "error",
        message: "Token is invalid or has expired.",
        data: null,
        error_type: "TokenException",
      }, { status: 403 }),
    async (apiRoot) => {
      const error = await exchangeRequestToken("rt123", { apiRoot, apiKey: KEY, apiSecret: "s3" })
        .catch((e: unknown) => e);
      assert.ok(error instanceof KiteApiError);
      assert.equal(error.errorType, "TokenException");
      assert.equal(error.message, "Token is invalid or has expired.");
    },
  );
});

Deno.test("probeProfile() calls a token dead only for TokenException, whatever the status", async () => {
  const cases = [
    [403, "TokenException", "auth"],
    [403, "PermissionException", "error"],
    [429, "NetworkException", "error"],
    [500, "GeneralException", "error"],
  ] as const;
  for (const [status, type, kind] of cases) {
    await withKite(
      () =>
        Response.json({ status: "error", message: "m", data: null, error_type: type }, { status }),
      async (apiRoot) => {
        const result = await probeProfile("t".repeat(32), { apiRoot, apiKey: KEY });
        assert.equal(result.kind, kind, `${status} ${type}`);
        assert.match("detail" in result ? result.detail : "", new RegExp(type));
      },
    );
  }
});
