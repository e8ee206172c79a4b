/**
 * The command line every `scripts/bench_*.ts` shares: `--flag N` options, progress on stderr,
 * the result as JSON on stdout.
 *
 * @module
 */
import { parseArgs } from "node:util";

/** A command-line flag and the option it sets: a number (times `scale`), or a string. */
export type BenchFlag =
  | { readonly flag: string; readonly option: string; readonly scale?: number }
  | { readonly flag: string; readonly option: string; readonly text: true };

/** Options read from `args` for `flags`; a flag not given sets nothing. */
export function benchOptions(
  args: readonly string[],
  flags: readonly BenchFlag[],
): Record<string, number | string> {
  const options = Object.fromEntries(flags.map(({ flag }) => [flag, { type: "string" as const }]));
  const { values } = parseArgs({ args: [...args], options });
  const read: Record<string, number | string> = {};
  for (const spec of flags) {
    const text = values[spec.flag];
    if (typeof text !== "string") continue;
    read[spec.option] = "text" in spec ? text : Number(text) * (spec.scale ?? 1);
  }
  return read;
}

/**
 * Runs `bench` with the options `Deno.args` gives for `flags`, logging progress to stderr,
 * and prints its result as JSON.
 *
 * @example
 * ```ts
 * if (import.meta.main) await runBench(benchIdle, [{ flag: "window-s", option: "windowMs", scale: 1000 }]);
 * ```
 */
export async function runBench<O>(
  bench: (options: O) => Promise<unknown>,
  flags: readonly BenchFlag[],
): Promise<void> {
  const options = { ...benchOptions(Deno.args, flags), log: (line: string) => console.error(line) };
  console.log(JSON.stringify(await bench(options as O), null, 2));
}
