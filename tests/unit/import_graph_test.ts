/**
 * The layout's import rules, checked on the source: which folder of `src/` may import which,
 * no cycle between folders, a pure lifecycle machine and a codec that imports nothing.
 * Each rule is a function of the graph, so a test below also feeds it a graph that breaks it.
 */
import assert from "node:assert/strict";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** A module (path relative to `src/`, e.g. `kite/packets.ts`) and what it imports. */
type Graph = ReadonlyMap<string, readonly string[]>;

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), "../../src");

/** Files at the top of `src/` that import nothing of ours but each other: anyone may use them. */
const LEAVES = new Set(["clock.ts", "host_port.ts", "log.ts", "log_level.ts"]);
/** Folders that import only each other and the leaves (nothing "upward"). */
const LOWER = new Set(["lifecycle", "kite", "market"]);
/** Who may import `simulator/`. */
const SIMULATOR_USERS = new Set(["cli", "testing", "simulator"]);
/** Who may import `testing/` (besides tests and scripts). */
const TESTING_USERS = new Set(["cli", "testing"]);
/** What a pure module must not mention. */
const IO = /\bDeno\.|\bconsole\.|\bfetch\(|\bWebSocket\b|\bsetTimeout\(|\bsetInterval\(/;

/** The node a module belongs to: its folder, or the file itself at the top of `src/`. */
function nodeOf(module: string): string {
  const slash = module.indexOf("/");
  return slash === -1 ? module : module.slice(0, slash);
}

/** Our own modules `text` imports (statically or dynamically), relative to `src/`. */
function importsOf(module: string, text: string): string[] {
  // Statements start a line; doc examples (" * import …") and strings do not.
  const statement = /^(?:import|export)\b[^;]*?\bfrom\s*"([^"]+)"|^import\s*"([^"]+)"/gms;
  const dynamic = /\bimport\(\s*"(\.[^"]+)"\s*\)/g;
  const found: string[] = [];
  for (const match of [...text.matchAll(statement), ...text.matchAll(dynamic)]) {
    const specifier = match[1] ?? match[2] ?? "";
    if (!specifier.startsWith(".")) continue;
    found.push(relative(SRC, join(SRC, dirname(module), specifier)));
  }
  return found;
}

async function sourceGraph(): Promise<{ graph: Graph; texts: Map<string, string> }> {
  const graph = new Map<string, string[]>();
  const texts = new Map<string, string>();
  async function walk(dir: string): Promise<void> {
    for await (const entry of Deno.readDir(dir)) {
      const path = join(dir, entry.name);
      if (entry.isDirectory) await walk(path);
      else if (entry.name.endsWith(".ts")) {
        const module = relative(SRC, path);
        const text = await Deno.readTextFile(path);
        texts.set(module, text);
        graph.set(module, importsOf(module, text));
      }
    }
  }
  await walk(SRC);
  return { graph, texts };
}

/** Every import that breaks a layering rule, as `from -> to: why`. */
function layeringViolations(graph: Graph): string[] {
  const found: string[] = [];
  for (const [from, targets] of graph) {
    const source = nodeOf(from);
    for (const to of targets) {
      const target = nodeOf(to);
      if (source === target) continue;
      const arrow = `${from} -> ${to}`;
      if (LEAVES.has(source) && !LEAVES.has(target)) found.push(`${arrow}: a leaf imports up`);
      if (LOWER.has(source) && !LOWER.has(target) && !LEAVES.has(target)) {
        found.push(`${arrow}: ${source}/ imports upward`);
      }
      if (target === "cli") found.push(`${arrow}: only main.ts imports cli/`);
      if (target === "daemon.ts" && source !== "cli" && source !== "testing") {
        found.push(`${arrow}: only cli/ and testing/ start the daemon`);
      }
      if (target === "simulator" && !SIMULATOR_USERS.has(source)) {
        found.push(`${arrow}: simulator/ is for cli/, testing/ and tests`);
      }
      if (target === "testing" && !TESTING_USERS.has(source)) {
        found.push(`${arrow}: testing/ is for cli/, tests and scripts`);
      }
    }
  }
  for (const to of graph.get("kite/packets.ts") ?? []) {
    found.push(`kite/packets.ts -> ${to}: the codec imports nothing`);
  }
  return found;
}

/** `text` without its comments (roughly: enough that a doc mentioning a WebSocket is not I/O). */
function withoutComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
}

/** Modules `machine.ts` reaches that do I/O (mention Deno, console, fetch, sockets, timers). */
function impureReach(graph: Graph, texts: ReadonlyMap<string, string>, root: string): string[] {
  const seen = new Set<string>();
  const stack = [root];
  while (stack.length > 0) {
    const module = stack.pop() as string;
    if (seen.has(module)) continue;
    seen.add(module);
    stack.push(...(graph.get(module) ?? []));
  }
  return [...seen].filter((module) => IO.test(withoutComments(texts.get(module) ?? "")));
}

/** The cycles between nodes (folders and top-level files), each as `a -> b -> a`. */
function nodeCycles(graph: Graph): string[] {
  const edges = new Map<string, Set<string>>();
  for (const [from, targets] of graph) {
    for (const to of targets) {
      const [a, b] = [nodeOf(from), nodeOf(to)];
      if (a === b) continue;
      if (!edges.has(a)) edges.set(a, new Set());
      edges.get(a)?.add(b);
    }
  }
  const cycles: string[] = [];
  const state = new Map<string, "open" | "done">();
  function visit(node: string, path: string[]): void {
    if (state.get(node) === "done") return;
    if (state.get(node) === "open") {
      cycles.push([...path.slice(path.indexOf(node)), node].join(" -> "));
      return;
    }
    state.set(node, "open");
    for (const next of edges.get(node) ?? []) visit(next, [...path, node]);
    state.set(node, "done");
  }
  for (const node of edges.keys()) visit(node, []);
  return cycles;
}

Deno.test("src/ keeps its layering: lower folders, leaves, simulator and testing users, the codec", async () => {
  const { graph } = await sourceGraph();
  assert.ok(graph.size > 50, `read ${graph.size} modules from ${SRC}`);
  assert.ok(graph.get("daemon.ts")?.includes("lifecycle/actor.ts"), "imports are parsed");
  assert.deepEqual(layeringViolations(graph), []);
});

Deno.test("src/ has no import cycle between folders", async () => {
  const { graph } = await sourceGraph();
  assert.deepEqual(nodeCycles(graph), []);
});

Deno.test("lifecycle/machine.ts reaches no module that does I/O", async () => {
  const { graph, texts } = await sourceGraph();
  assert.ok(texts.has("lifecycle/machine.ts"));
  assert.deepEqual(impureReach(graph, texts, "lifecycle/machine.ts"), []);
});

Deno.test("the rules catch a broken graph", () => {
  const broken: Graph = new Map([
    ["log.ts", ["lifecycle/machine.ts"]],
    ["lifecycle/machine.ts", ["ops/notifier.ts"]],
    ["ops/notifier.ts", ["lifecycle/machine.ts", "simulator/simulator.ts"]],
    ["http/app.ts", ["daemon.ts", "testing/login_driver.ts", "cli/run_command.ts"]],
    ["kite/packets.ts", ["kite/instruments.ts"]],
  ]);
  assert.deepEqual(layeringViolations(broken), [
    "log.ts -> lifecycle/machine.ts: a leaf imports up",
    "lifecycle/machine.ts -> ops/notifier.ts: lifecycle/ imports upward",
    "ops/notifier.ts -> simulator/simulator.ts: simulator/ is for cli/, testing/ and tests",
    "http/app.ts -> daemon.ts: only cli/ and testing/ start the daemon",
    "http/app.ts -> testing/login_driver.ts: testing/ is for cli/, tests and scripts",
    "http/app.ts -> cli/run_command.ts: only main.ts imports cli/",
    "kite/packets.ts -> kite/instruments.ts: the codec imports nothing",
  ]);
  assert.deepEqual(nodeCycles(broken), ["lifecycle -> ops -> lifecycle"]);
  const texts = new Map([
    ["lifecycle/machine.ts", "/** Never calls fetch() or Deno.exit(). */\n// nor console.log"],
    ["ops/notifier.ts", "await fetch(url)"],
  ]);
  assert.deepEqual(impureReach(broken, texts, "lifecycle/machine.ts"), ["ops/notifier.ts"]);
  assert.deepEqual(
    importsOf("cli/x.ts", ' * import { a } from "../b.ts";\nimport {\n  c,\n} from "../d/e.ts";\n'),
    ["d/e.ts"],
  );
});
