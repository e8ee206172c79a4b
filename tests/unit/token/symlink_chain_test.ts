import assert from "node:assert/strict";
import { symlinkChain } from "../../../src/token/symlink_chain.ts";
import { withTempDir } from "../../_support/temp_dir.ts";

Deno.test("symlinkChain() follows relative links across directories to a file that need not exist", async () => {
  await withTempDir("kitekeeper_links_", async (dir) => {
    await Deno.mkdir(`${dir}/real`);
    await Deno.symlink("real/link.env", `${dir}/.env`);
    await Deno.symlink("kite.env", `${dir}/real/link.env`);
    assert.deepEqual(await symlinkChain(`${dir}/.env`), {
      paths: [`${dir}/.env`, `${dir}/real/link.env`, `${dir}/real/kite.env`],
    });
    assert.deepEqual(await symlinkChain(`${dir}/plain.env`), { paths: [`${dir}/plain.env`] });
  });
});

Deno.test("symlinkChain() stops a loop after 40 hops with ELOOP", async () => {
  await withTempDir("kitekeeper_links_", async (dir) => {
    await Deno.symlink("b", `${dir}/a`);
    await Deno.symlink("a", `${dir}/b`);
    const { paths, error } = await symlinkChain(`${dir}/a`);
    assert.equal(paths.length, 41);
    assert.equal((error as { code?: string } | undefined)?.code, "ELOOP");
  });
});
