/**
 * A child process for `env_crash_test.ts`: writes token after token into a `.env` with the
 * daemon's own {@linkcode writeToken}, announcing each on stdout before (`about N`) and
 * after (`done N`), until it is killed or has written `count` tokens.
 *
 * Usage: `deno run --allow-read --allow-write tests/_support/env_writer_child.ts PATH FIRST COUNT`
 *
 * @module
 */
import { writeToken } from "../../src/token/env_file.ts";
import { say } from "./kill_timing.ts";

/** The token of write number `n`: 32 letters and digits, as Kite's, distinct per `n`. */
export function tokenOf(n: number): string {
  return `Tok${String(n).padStart(29, "0")}`;
}

async function main(args: readonly string[]): Promise<void> {
  const [path, firstText, countText] = args;
  const first = Number(firstText);
  const count = Number(countText);
  if (path === undefined || !Number.isInteger(first) || !Number.isInteger(count)) {
    throw new TypeError("Usage: _env_writer_child.ts PATH FIRST COUNT");
  }
  for (let n = first; n < first + count; n++) {
    say(`about ${n}`);
    await writeToken(path, tokenOf(n));
    say(`done ${n}`);
  }
}

if (import.meta.main) await main(Deno.args);
