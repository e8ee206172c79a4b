/**
 * Without `KITEKEEPER_REDIS_URL` no Redis code loads: nothing outside `src/cluster/` imports
 * it or the Redis client statically; the one way in is the daemon's dynamic import, taken
 * only when the URL is set.
 */
import assert from "node:assert/strict";
import { MAIN } from "../../_support/run.ts";

interface InfoModule {
  readonly specifier: string;
  readonly dependencies?: readonly {
    readonly code?: { readonly specifier: string };
    readonly isDynamic?: boolean;
  }[];
}

Deno.test("main.ts reaches src/cluster/ and @redis/client only through a dynamic import", async () => {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", MAIN],
    stdout: "piped",
    stderr: "null",
  }).output();
  assert.equal(output.code, 0);
  const info = JSON.parse(new TextDecoder().decode(output.stdout)) as {
    roots: string[];
    modules: InfoModule[];
    redirects: Record<string, string>;
  };
  const resolve = (specifier: string) => info.redirects[specifier] ?? specifier;
  const inCluster = (specifier: string) => /\/src\/cluster\/|@redis\//.test(specifier);
  // Every edge from outside into the cluster's code: it must be a dynamic import.
  const entries: string[] = [];
  const staticEntries: string[] = [];
  for (const module of info.modules) {
    if (inCluster(module.specifier)) continue;
    for (const dependency of module.dependencies ?? []) {
      const target = dependency.code?.specifier;
      if (target === undefined || !inCluster(resolve(target))) continue;
      const edge = `${module.specifier} -> ${target}`;
      (dependency.isDynamic ? entries : staticEntries).push(edge);
    }
  }
  assert.deepEqual(staticEntries, [], "static imports of cluster or Redis code");
  assert.equal(entries.length, 1, entries.join("\n"));
  assert.match(entries[0]!, /src\/daemon\.ts -> .*src\/cluster\/cluster_node\.ts$/);
  // And behind that import, the client is there to load.
  assert.ok(info.modules.some((module) => module.specifier.includes("@redis/client")));
});
