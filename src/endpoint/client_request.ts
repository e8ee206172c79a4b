/**
 * What a local client asks, read from its text message: Kite's three requests
 * (`{"a":"subscribe","v":[…]}`, `{"a":"unsubscribe","v":[…]}`, `{"a":"mode","v":[mode,[…]]}`)
 * and kitekeeper's own opt-in (`{"a":"kitekeeper","v":["notices"]}`; `"v":[]` opts out).
 * Pure; never throws: anything else is `invalid` with the error text the client gets.
 *
 * @module
 */
import type { Mode } from "../kite/packets.ts";

/** Kitekeeper's own options a client can turn on. */
export type ClientOption = "notices";

/** A client's request, or why it cannot be served. */
export type ClientRequest =
  | {
    readonly kind: "subscribe" | "unsubscribe";
    readonly tokens: readonly number[];
    /** How many entries of `v` were not instrument tokens (left out). */
    readonly skipped: number;
  }
  | {
    readonly kind: "mode";
    readonly mode: Mode;
    readonly tokens: readonly number[];
    readonly skipped: number;
  }
  | { readonly kind: "kitekeeper"; readonly options: ReadonlySet<ClientOption> }
  | { readonly kind: "invalid"; readonly error: string };

const MODES: ReadonlySet<string> = new Set(["ltp", "quote", "full"]);
const OPTIONS: ReadonlySet<string> = new Set(["notices"]);
const MAX_TOKEN = 0xffffffff;

function tokensOf(value: unknown[]): { tokens: number[]; skipped: number } {
  const tokens: number[] = [];
  for (const item of value) {
    if (typeof item === "number" && Number.isInteger(item) && item > 0 && item <= MAX_TOKEN) {
      tokens.push(item);
    }
  }
  return { tokens, skipped: value.length - tokens.length };
}

/** A short, safe rendering of what a client sent, for an error text. */
function shown(value: unknown): string {
  return typeof value === "string" ? JSON.stringify(value.slice(0, 40)) : typeof value;
}

function invalid(error: string): ClientRequest {
  return { kind: "invalid", error };
}

/** Reads one text message from a client. */
export function parseClientRequest(text: string): ClientRequest {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return invalid("Invalid message: not JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return invalid('Invalid message: expected an object like {"a":"subscribe","v":[…]}');
  }
  const { a, v } = value as { a?: unknown; v?: unknown };
  switch (a) {
    case "subscribe":
    case "unsubscribe":
      if (!Array.isArray(v)) return invalid(`Invalid ${a}: "v" must be a list of tokens`);
      return { kind: a, ...tokensOf(v) };
    case "mode": {
      const [mode, tokens] = Array.isArray(v) ? v : [];
      if (typeof mode !== "string" || !MODES.has(mode) || !Array.isArray(tokens)) {
        return invalid('Invalid mode: "v" must be [ltp|quote|full, [tokens]]');
      }
      return { kind: "mode", mode: mode as Mode, ...tokensOf(tokens) };
    }
    case "kitekeeper": {
      if (!Array.isArray(v)) return invalid('Invalid kitekeeper request: "v" must be a list');
      const unknown = v.filter((option) => typeof option !== "string" || !OPTIONS.has(option));
      if (unknown.length > 0) {
        return invalid(
          `Invalid kitekeeper request: unknown option ${shown(unknown[0])}; known: notices`,
        );
      }
      return { kind: "kitekeeper", options: new Set(v as ClientOption[]) };
    }
    default:
      return invalid(
        `Invalid message: unknown action ${shown(a)}; ` +
          "expected subscribe, unsubscribe or mode",
      );
  }
}
