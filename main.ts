/**
 * kitekeeper's command line: picks the subcommand and hands it the rest of the words.
 *
 * @module
 */
import denoJson from "./deno.json" with { type: "json" };
import { UsageError } from "./src/cli/usage_error.ts";

/** The line printed with `--help` and after every usage error. */
export const USAGE =
  "Usage: kitekeeper <run|simulate|demo|status|replay|export> [options]  (kitekeeper --help, kitekeeper --version)";

const HELP = `${USAGE}

Subcommands:
  run       --env-file PATH --listen HOST:PORT   the daemon: keeps the Kite feed live
  simulate  --listen HOST:PORT --api-key K --api-secret S --user-id U --password P
            --redirect-url URL [--tick-ms N] [--market-hours]  a local Kite (login, REST, ticker)
  demo      [--listen HOST:PORT] [--auto [--cycle-s N]]  the simulator and the daemon wired together
  status    [--url URL] [--json]                   a summary of a running daemon's /status
  replay    --journal DIR --date YYYY-MM-DD [--from HH:MM] [--to HH:MM] [--speed N|max]
            --listen HOST:PORT [--env-file PATH]   a journal day on the Kite-compatible /ws
  export    --journal DIR --date YYYY-MM-DD --format csv|parquet [--out FILE]
                                                   a journal day, one row per tick
`;

type Command = (args: readonly string[]) => Promise<number>;

// Loaded on demand: `simulate` runs with --allow-net only, and the official client the daemon
// imports reads the environment as it loads.
const COMMANDS: Readonly<Record<string, () => Promise<Command>>> = {
  run: async () => (await import("./src/cli/run_command.ts")).runCommand,
  simulate: async () => (await import("./src/cli/simulate_command.ts")).simulateCommand,
  demo: async () => (await import("./src/cli/demo_command.ts")).demoCommand,
  // `status` imports nothing that reads files or the environment: --allow-net is enough.
  status: async () => (await import("./src/cli/status_command.ts")).statusCommand,
  replay: async () => (await import("./src/cli/replay_command.ts")).replayCommand,
  export: async () => (await import("./src/cli/export_command.ts")).exportCommand,
};

/** Runs the command line `args` and returns the process exit code. */
export async function main(args: readonly string[]): Promise<number> {
  const [first, ...rest] = args;
  if (first === "--help" || first === "-h") {
    console.log(HELP);
    return 0;
  }
  if (first === "--version" || first === "-V") {
    console.log(`kitekeeper ${denoJson.version}`);
    return 0;
  }
  const load = first === undefined ? undefined : COMMANDS[first];
  if (load === undefined) {
    console.error(first === undefined ? "Missing subcommand" : `Unknown subcommand "${first}"`);
    console.error(USAGE);
    return 2;
  }
  // `kitekeeper run --help` asks for help, not for a daemon.
  if (rest.includes("--help") || rest.includes("-h")) {
    console.log(HELP);
    return 0;
  }
  try {
    const command = await load();
    return await command(rest);
  } catch (error: unknown) {
    if (!(error instanceof UsageError)) throw error;
    console.error(error.message);
    console.error(USAGE);
    return 2;
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
