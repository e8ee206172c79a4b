/**
 * Strict flag parsing for every subcommand, on `node:util` `parseArgs`.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { UsageError } from "./usage_error.ts";

/** The flags a subcommand takes: each a string-valued or a boolean flag. */
export type FlagSpec = Record<string, { type: "string" | "boolean"; short?: string }>;

/** Parsed flag values: strings for string flags, booleans for boolean flags. */
export type FlagValues = Record<string, string | boolean | undefined>;

/**
 * Parses `args` against `spec`; any unknown flag or positional word is a {@linkcode UsageError}.
 *
 * @example
 * ```ts
 * const flags = parseFlags(["--listen", "127.0.0.1:0"], { listen: { type: "string" } });
 * ```
 */
export function parseFlags(args: readonly string[], spec: FlagSpec): FlagValues {
  try {
    const { values } = parseArgs({
      args: [...args],
      options: spec,
      strict: true,
      allowPositionals: false,
    });
    return values as FlagValues;
  } catch (error: unknown) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

/** Reads a string flag, or throws a {@linkcode UsageError} naming it when it is required and absent. */
export function stringFlag(
  values: FlagValues,
  name: string,
  options: { fallback?: string } = {},
): string {
  const value = values[name];
  if (typeof value === "string") return value;
  if (options.fallback !== undefined) return options.fallback;
  throw new UsageError(`Missing required flag --${name}`);
}

/** Splits `HOST:PORT` (or `[v6]:PORT`) into its parts; PORT 0 asks for any free port. */
export function parseHostPort(text: string): { hostname: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(text);
  const port = Number(match?.[3]);
  const hostname = match?.[1] ?? match?.[2];
  if (hostname === undefined || !Number.isInteger(port) || port > 65535) {
    throw new UsageError(`Failed to parse address "${text}": expected HOST:PORT`);
  }
  return { hostname, port };
}
