/**
 * Strict flag parsing for every subcommand, on `node:util` `parseArgs`.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { type HostPort, parseHostPort } from "../host_port.ts";
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

/** A `--listen HOST:PORT` flag's value (`[v6]:PORT` too); PORT 0 asks for any free port. */
export function listenFlag(text: string): HostPort {
  const listen = parseHostPort(text);
  if (listen === null) {
    throw new UsageError(`Failed to parse address "${text}": expected HOST:PORT`);
  }
  return listen;
}
