import assert from "node:assert/strict";
import { XMLParser } from "fast-xml-parser";
import denoJson from "../../deno.json" with { type: "json" };
import { RUNTIME_ENV, V8_FLAGS, v8FlagsArgument } from "../../src/ops/runtime_settings.ts";
import { compilePlan } from "../../scripts/compile.ts";

const UNIT = new URL("../../scripts/kitekeeper.service", import.meta.url);
const PLIST = new URL("../../scripts/com.kitekeeper.plist", import.meta.url);
const TASKS = denoJson.tasks as Record<string, string>;

/** A task's leading `VAR=value` words, and its `--v8-flags=` list (empty when absent). */
function taskSettings(task: string): { env: Record<string, string>; v8: string[] } {
  const words = task.trim().split(/\s+/);
  const env: Record<string, string> = {};
  let at = 0;
  for (; at < words.length; at++) {
    const pair = /^([A-Z_]+)=(.*)$/.exec(words[at]!);
    if (pair === null) break;
    env[pair[1]!] = pair[2]!;
  }
  const flag = words.slice(at).find((word) => word.startsWith("--v8-flags="));
  return { env, v8: flag === undefined ? [] : flag.slice("--v8-flags=".length).split(",") };
}

Deno.test("runtime settings are frozen: MALLOC_ARENA_MAX and a small young generation", () => {
  assert.ok(Object.isFrozen(RUNTIME_ENV) && Object.isFrozen(V8_FLAGS));
  assert.deepEqual(RUNTIME_ENV, { MALLOC_ARENA_MAX: "2" });
  assert.ok(V8_FLAGS.some((flag) => /^--max-semi-space-size=\d+$/.test(flag)));
  assert.equal(v8FlagsArgument(["--expose-gc"]), `--v8-flags=--expose-gc,${V8_FLAGS.join(",")}`);
});

Deno.test("deno task start, demo and soak run with exactly the runtime settings", () => {
  for (const name of ["start", "demo", "soak"]) {
    const settings = taskSettings(TASKS[name] ?? "");
    assert.deepEqual(settings.env, RUNTIME_ENV, `task ${name}: ${TASKS[name]}`);
    // The soak adds --expose-gc, to sample after a full collection; nothing else differs.
    const v8 = settings.v8.filter((flag) => name !== "soak" || flag !== "--expose-gc");
    assert.deepEqual(v8, [...V8_FLAGS], `task ${name}: ${TASKS[name]}`);
  }
});

Deno.test("the compiled binary bakes the V8 flags in, and both units set the environment", async () => {
  // deno compile takes the V8 flags into the binary; the environment comes from the unit.
  assert.deepEqual(taskSettings(TASKS["compile"] ?? "").v8, [...V8_FLAGS]);
  const plan = compilePlan("x86_64-unknown-linux-gnu", {
    env: {},
    host: "x86_64-unknown-linux-gnu",
  });
  assert.ok(plan.args.includes(v8FlagsArgument()), plan.args.join(" "));

  const unit = await Deno.readTextFile(UNIT);
  const environment = [...unit.matchAll(/^Environment=(\w+)=(.*)$/gm)]
    .filter(([, name]) => name !== "DENO_DIR")
    .map(([, name, value]) => [name, value]);
  assert.deepEqual(Object.fromEntries(environment), RUNTIME_ENV);

  const plist = new XMLParser().parse(await Deno.readTextFile(PLIST)).plist.dict;
  const keys: string[] = plist.key;
  const dicts = Array.isArray(plist.dict) ? plist.dict : [plist.dict];
  // The dicts appear in key order among the values: find EnvironmentVariables' one.
  const env = dicts.find((dict: { key: unknown }) =>
    [dict.key].flat().includes(Object.keys(RUNTIME_ENV)[0])
  );
  assert.ok(keys.includes("EnvironmentVariables"), "the plist sets EnvironmentVariables");
  const names = [env.key].flat();
  const values = [env.string].flat().map(String);
  assert.deepEqual(Object.fromEntries(names.map((name, i) => [name, values[i]])), RUNTIME_ENV);
});
