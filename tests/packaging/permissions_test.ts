import assert from "node:assert/strict";
import { RUN_PERMISSIONS } from "../../src/ops/permissions.ts";

const DENO_JSON = new URL("../../deno.json", import.meta.url);
const DAEMON_TASKS = ["start", "demo", "compile"] as const;

/** The permission flags a `deno run|compile … main.ts …` line grants, in order. */
function grantedFlags(task: string): string[] {
  // Leading VAR=value words set the process's environment (runtime_settings_test checks them).
  const all = task.trim().split(/\s+/);
  const words = all.slice(all.findIndex((word) => !/^[A-Z_]+=/.test(word)));
  const script = words.indexOf("main.ts");
  if (words[0] !== "deno" || (words[1] !== "run" && words[1] !== "compile") || script < 0) {
    throw new SyntaxError(`Failed to read task: not "deno run|compile … main.ts": ${task}`);
  }
  // Words after the script are the program's arguments, not Deno's flags.
  return words.slice(2, script).filter((word) =>
    word === "-A" || word.startsWith("--allow-") || word.startsWith("--deny-")
  );
}

async function daemonTasks(): Promise<Record<string, string>> {
  const json = JSON.parse(await Deno.readTextFile(DENO_JSON)) as { tasks?: unknown };
  const tasks = json.tasks as Record<string, unknown> | undefined;
  assert.ok(tasks !== undefined, "deno.json has no tasks");
  const found: Record<string, string> = {};
  for (const name of DAEMON_TASKS) {
    const task: unknown = tasks[name];
    if (typeof task !== "string") throw new assert.AssertionError({ message: `No "${name}" task` });
    found[name] = task;
  }
  return found;
}

Deno.test("RUN_PERMISSIONS is frozen, unscoped-by-design and without -A or duplicates", () => {
  assert.ok(Object.isFrozen(RUN_PERMISSIONS));
  assert.equal(new Set(RUN_PERMISSIONS).size, RUN_PERMISSIONS.length);
  for (const flag of RUN_PERMISSIONS) {
    assert.match(flag, /^--allow-[a-z]+$/);
    assert.notEqual(flag, "--allow-all");
  }
  assert.ok(!RUN_PERMISSIONS.includes("--allow-run"), "the daemon runs no subprocesses");
});

Deno.test("deno.json's start, demo and compile tasks grant exactly RUN_PERMISSIONS", async () => {
  const tasks = await daemonTasks();
  for (const [name, task] of Object.entries(tasks)) {
    const flags = grantedFlags(task);
    assert.ok(!flags.includes("-A") && !flags.includes("--allow-all"), `${name}: ${task}`);
    assert.deepEqual(
      [...flags].sort(),
      [...RUN_PERMISSIONS].sort(),
      `task "${name}" must grant exactly ${RUN_PERMISSIONS.join(" ")}: ${task}`,
    );
  }
});

Deno.test("grantedFlags() sees -A, extra flags, and ignores the program's own arguments", () => {
  assert.deepEqual(grantedFlags("deno run -A main.ts run"), ["-A"]);
  assert.deepEqual(
    grantedFlags("deno run --allow-net --allow-run main.ts run --allow-sys"),
    ["--allow-net", "--allow-run"],
  );
  assert.deepEqual(
    grantedFlags("deno compile --allow-read=/etc --output dist/kitekeeper main.ts"),
    ["--allow-read=/etc"],
  );
  assert.throws(() => grantedFlags("deno test --allow-net"), SyntaxError);
});
