import assert from "node:assert/strict";
import { symlinkChain } from "../../../src/token/symlink_chain.ts";
import { withTempDir } from "../../_support/temp_dir.ts";

Deno.test("symlinkChain() follows relative links across directories to a file that need not exist", async () => {
  await withTempDir("kitekeeper_links_", async (temp) => {
    const dir = await Deno.realPath(temp);
    await Deno.mkdir(`${dir}/real`);
    await Deno.symlink("real/link.env", `${dir}/.env`);
    await Deno.symlink("kite.env", `${dir}/real/link.env`);
    assert.deepEqual(await symlinkChain(`${dir}/.env`), {
      links: [`${dir}/.env`, `${dir}/real/link.env`],
      target: `${dir}/real/kite.env`,
    });
    assert.deepEqual(await symlinkChain(`${dir}/plain.env`), {
      links: [],
      target: `${dir}/plain.env`,
    });
  });
});

Deno.test("symlinkChain() stops a loop after 40 hops with ELOOP", async () => {
  await withTempDir("kitekeeper_links_", async (dir) => {
    await Deno.symlink("b", `${dir}/a`);
    await Deno.symlink("a", `${dir}/b`);
    await assert.rejects(symlinkChain(`${dir}/a`), (error: unknown) => {
      assert.equal((error as { code?: string }).code, "ELOOP");
      return true;
    });
  });
});
