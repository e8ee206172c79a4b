/**
 * Shared setup for the simulator tests: options, a fake clock, the login form walked over
 * HTTP, and `/_sim/*` calls.
 *
 * @module
 */
import assert from "node:assert/strict";
import { FakeClock } from "../../src/testing/fake_clock.ts";
import {
  type Simulator,
  type SimulatorOptions,
  startSimulator,
} from "../../src/simulator/simulator.ts";

/** Where simulator tests start their fake clock: a Monday, 09:15 IST. */
export const SIM_START: number = Date.UTC(2026, 0, 5, 3, 45, 0);

/** Credentials every simulator test uses. */
export const CREDENTIALS = Object.freeze({
  apiKey: "simkey0123",
  apiSecret: "simsecret0123456789",
  userId: "AB1234",
  password: "correct horse",
  redirectUrl: "http://127.0.0.1:9/api/auth/callback",
});

/** Options for a test simulator: fast ticks and heartbeats, a fake clock. */
export function simOptions(overrides: Partial<SimulatorOptions> = {}): SimulatorOptions {
  return {
    ...CREDENTIALS,
    tickMs: 40,
    heartbeatMs: 50,
    clock: new FakeClock(SIM_START),
    ...overrides,
  };
}

/**
 * Runs `fn` with a test simulator on its own fake clock (from `start`, default a Monday
 * 09:15 IST), and closes the simulator afterwards.
 */
export async function withSimulator(
  fn: (sim: Simulator, clock: FakeClock) => Promise<void>,
  options: Partial<SimulatorOptions> & { start?: number } = {},
): Promise<void> {
  const { start, ...overrides } = options;
  const clock = new FakeClock(start ?? SIM_START);
  const sim = await startSimulator(simOptions({ clock, ...overrides }));
  try {
    await fn(sim, clock);
  } finally {
    await sim.close();
  }
}

/** The value of hidden input `name` in an HTML page. */
export function hiddenField(page: string, name: string): string | undefined {
  const match = new RegExp(`<input type="hidden" name="${name}" value="([^"]*)">`).exec(page);
  return match?.[1]?.replaceAll("&amp;", "&").replaceAll("&quot;", '"').replaceAll("&lt;", "<")
    .replaceAll("&gt;", ">").replaceAll("&#39;", "'");
}

/**
 * Walks the login form like a browser: GET the form, POST it back with the user's
 * credentials, and returns the 302's Location.
 */
export async function loginRedirect(
  sim: Simulator,
  options: { redirectParams?: string; password?: string } = {},
): Promise<URL> {
  const query = new URLSearchParams({ v: "3", api_key: CREDENTIALS.apiKey });
  if (options.redirectParams !== undefined) query.set("redirect_params", options.redirectParams);
  const formResponse = await fetch(`${sim.url}/connect/login?${query}`);
  const page = await formResponse.text();
  assert.equal(formResponse.status, 200);
  const form = new URLSearchParams({
    api_key: hiddenField(page, "api_key") ?? "",
    redirect_params: hiddenField(page, "redirect_params") ?? "",
    user_id: CREDENTIALS.userId,
    password: options.password ?? CREDENTIALS.password,
  });
  const response = await fetch(`${sim.url}/connect/login`, {
    method: "POST",
    body: form,
    redirect: "manual",
  });
  await response.body?.cancel();
  assert.equal(response.status, 302);
  return new URL(response.headers.get("location") ?? "");
}

/** A fresh request token through the login form. */
export async function requestToken(sim: Simulator): Promise<string> {
  const location = await loginRedirect(sim);
  const token = location.searchParams.get("request_token");
  assert.ok(token !== null, `no request_token in ${location}`);
  return token;
}

/** Calls a `/_sim/*` route and returns its JSON. */
export async function control(
  sim: Simulator,
  path: string,
  options: { method?: "GET" | "POST" } = {},
): Promise<Record<string, unknown>> {
  const response = await fetch(`${sim.url}/_sim/${path}`, { method: options.method ?? "POST" });
  const body = await response.json();
  assert.equal(response.status, 200, JSON.stringify(body));
  return body;
}
