import assert from "node:assert/strict";
import {
  checkEnvFileMode,
  parseEnv,
  readEnvFile,
  tokenKeyIn,
  writeToken,
} from "../../../src/token/env_file.ts";
import { listDir, withTempDir } from "../../_support/temp_dir.ts";

const OLD = "oldTokenoldTokenoldTokenoldToken";
const NEW = "newTokennewTokennewTokennewToken";

const TEMP_PREFIX = "kitekeeper_env_";

async function readBytes(path: string): Promise<string> {
  // Decoded without dropping a BOM, so the assertions see every byte.
  return new TextDecoder("utf-8", { ignoreBOM: true }).decode(await Deno.readFile(path));
}

Deno.test("parseEnv() reads quotes, export prefixes, comments, CRLF and a BOM", () => {
  const text = "\uFEFF# header\r\n" +
    "export KITE_API_KEY=key1\r\n" +
    "KITE_API_SECRET='sec ret'\r\n" +
    'KITE_USER_ID="AB\\n12" # inline\r\n' +
    "KITEKEEPER_MODE=`ltp`\r\n" +
    "KITEKEEPER_LISTEN=127.0.0.1:9000 # trailing comment\r\n" +
    "EMPTY=\r\n";
  assert.deepEqual(parseEnv(text), {
    KITE_API_KEY: "key1",
    KITE_API_SECRET: "sec ret",
    KITE_USER_ID: "AB\n12",
    KITEKEEPER_MODE: "ltp",
    KITEKEEPER_LISTEN: "127.0.0.1:9000",
    EMPTY: "",
  });
});

Deno.test("parseEnv() keeps the last of repeated keys, as dotenv does", () => {
  assert.deepEqual(parseEnv(`KITE_ACCESS_TOKEN=${OLD}\nKITE_ACCESS_TOKEN=${NEW}\n`), {
    KITE_ACCESS_TOKEN: NEW,
  });
});

Deno.test("parseEnv() reads a BOM-prefixed first key under its plain name", () => {
  const values = parseEnv("\uFEFFKITE_API_KEY=k\n");
  assert.deepEqual(Object.keys(values), ["KITE_API_KEY"]);
});

Deno.test("tokenKeyIn() prefers KITE_ACCESS_TOKEN, then the alias, then the one with a value", () => {
  assert.equal(tokenKeyIn({}), "KITE_ACCESS_TOKEN");
  assert.equal(tokenKeyIn({ ZERODHA_ACCESS_TOKEN: OLD }), "ZERODHA_ACCESS_TOKEN");
  assert.equal(
    tokenKeyIn({ KITE_ACCESS_TOKEN: NEW, ZERODHA_ACCESS_TOKEN: OLD }),
    "KITE_ACCESS_TOKEN",
  );
  assert.equal(
    tokenKeyIn({ KITE_ACCESS_TOKEN: "", ZERODHA_ACCESS_TOKEN: OLD }),
    "ZERODHA_ACCESS_TOKEN",
  );
  assert.equal(tokenKeyIn({ ZERODHA_ACCESS_TOKEN: "" }), "ZERODHA_ACCESS_TOKEN");
});

Deno.test("readEnvFile() returns values and the raw text, BOM included", async () => {
  await withTempDir(TEMP_PREFIX, async (dir) => {
    await Deno.writeTextFile(`${dir}/.env`, "\uFEFFKITE_API_KEY=k\r\n");
    const result = await readEnvFile(`${dir}/.env`);
    assert.equal(result.kind, "ok");
    assert.ok(result.kind === "ok");
    assert.deepEqual(result.values, { KITE_API_KEY: "k" });
    assert.equal(result.text, "\uFEFFKITE_API_KEY=k\r\n");
  });
});

Deno.test("readEnvFile() says missing for no file or a dangling symlink, unreadable for a directory", async () => {
  await withTempDir(TEMP_PREFIX, async (dir) => {
    assert.deepEqual(await readEnvFile(`${dir}/.env`), { kind: "missing" });
    await Deno.symlink(`${dir}/nowhere`, `${dir}/link.env`);
    assert.deepEqual(await readEnvFile(`${dir}/link.env`), { kind: "missing" });
    await Deno.mkdir(`${dir}/dir.env`);
    const result = await readEnvFile(`${dir}/dir.env`);
    assert.equal(result.kind, "unreadable");
    assert.ok(result.kind === "unreadable" && result.detail.length > 0);
  });
});

Deno.test("writeToken() replaces only the token line, keeping CRLF, comments, BOM and no final newline", async () => {
  await withTempDir(TEMP_PREFIX, async (dir) => {
    const path = `${dir}/.env`;
    const before = "\uFEFF# Kite credentials\r\n" +
      "KITE_API_KEY=key1\r\n" +
      "\r\n" +
      `KITE_ACCESS_TOKEN=${OLD}\r\n` +
      "# trailing comment\r\n" +
      "KITEKEEPER_MODE=ltp";
    await Deno.writeTextFile(path, before);
    assert.equal(await writeToken(path, NEW), "written");
    assert.equal(await readBytes(path), before.replace(OLD, NEW));
  });
});

Deno.test("writeToken() keeps an export prefix, the quote style and an inline comment", async () => {
  await withTempDir(TEMP_PREFIX, async (dir) => {
    const path = `${dir}/.env`;
    const cases = [
      [
        `export KITE_ACCESS_TOKEN="${OLD}" # rotated daily\n`,
        `export KITE_ACCESS_TOKEN="${NEW}" # rotated daily\n`,
      ],
      [`KITE_ACCESS_TOKEN='${OLD}'\n`, `KITE_ACCESS_TOKEN='${NEW}'\n`],
      [`  KITE_ACCESS_TOKEN = ${OLD}   # note\n`, `  KITE_ACCESS_TOKEN = ${NEW}   # note\n`],
      [`KITE_ACCESS_TOKEN=\n`, `KITE_ACCESS_TOKEN=${NEW}\n`],
    ];
    for (const [before, after] of cases) {
      await Deno.writeTextFile(path, before!);
      assert.equal(await writeToken(path, NEW), "written");
      assert.equal(await readBytes(path), after);
      assert.equal(parseEnv(after!)["KITE_ACCESS_TOKEN"], NEW);
    }
  });
});

Deno.test("writeToken() updates the alias in use and the last of repeated lines", async () => {
  await withTempDir(TEMP_PREFIX, async (dir) => {
    const path = `${dir}/.env`;
    await Deno.writeTextFile(path, `ZERODHA_ACCESS_TOKEN=${OLD}\nZERODHA_API_KEY=k\n`);
    await writeToken(path, NEW);
    assert.equal(await readBytes(path), `ZERODHA_ACCESS_TOKEN=${NEW}\nZERODHA_API_KEY=k\n`);

    await Deno.writeTextFile(path, `KITE_ACCESS_TOKEN=first\nX=1\nKITE_ACCESS_TOKEN=${OLD}\n`);
    await writeToken(path, NEW);
    assert.equal(await readBytes(path), `KITE_ACCESS_TOKEN=first\nX=1\nKITE_ACCESS_TOKEN=${NEW}\n`);
  });
});

Deno.test("writeToken() appends the token in the file's line-ending style when absent", async () => {
  await withTempDir(TEMP_PREFIX, async (dir) => {
    const path = `${dir}/.env`;
    const cases = [
      ["A=1\n", `A=1\nKITE_ACCESS_TOKEN=${NEW}\n`],
      ["A=1\r\nB=2\r\n", `A=1\r\nB=2\r\nKITE_ACCESS_TOKEN=${NEW}\r\n`],
      ["A=1\r\nB=2", `A=1\r\nB=2\r\nKITE_ACCESS_TOKEN=${NEW}`],
      ["A=1", `A=1\nKITE_ACCESS_TOKEN=${NEW}`],
      ["", `KITE_ACCESS_TOKEN=${NEW}\n`],
      ["\uFEFF", `\uFEFFKITE_ACCESS_TOKEN=${NEW}\n`],
    ];
    for (const [before, after] of cases) {
      await Deno.writeTextFile(path, before!);
      assert.equal(await writeToken(path, NEW), "written");
      assert.equal(await readBytes(path), after, JSON.stringify(before));
    }
  });
});

Deno.test("writeToken() appends rather than edit a look-alike line inside a multi-line value", async () => {
  await withTempDir(TEMP_PREFIX, async (dir) => {
    const path = `${dir}/.env`;
    const before = `NOTE="line one\nKITE_ACCESS_TOKEN=${OLD}\nline three"\n`;
    await Deno.writeTextFile(path, before);
    await writeToken(path, NEW);
    const after = await readBytes(path);
    assert.equal(after, `${before}KITE_ACCESS_TOKEN=${NEW}\n`);
    assert.equal(parseEnv(after)["NOTE"], parseEnv(before)["NOTE"]);
  });
});

Deno.test("writeToken() creates a missing file and leaves mode 0600", async () => {
  await withTempDir(TEMP_PREFIX, async (dir) => {
    const path = `${dir}/.env`;
    assert.equal(await writeToken(path, NEW), "written");
    assert.equal(await readBytes(path), `KITE_ACCESS_TOKEN=${NEW}\n`);
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);

    await Deno.chmod(path, 0o644);
    await writeToken(path, OLD);
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    assert.deepEqual(await listDir(dir), [".env"]);
  });
});

Deno.test("writeToken() skips a file that already holds the token, leaving its mtime", async () => {
  await withTempDir(TEMP_PREFIX, async (dir) => {
    const path = `${dir}/.env`;
    await Deno.writeTextFile(path, `KITE_ACCESS_TOKEN="${NEW}"\n`);
    const past = new Date("2024-01-02T03:04:05Z");
    await Deno.utime(path, past, past);
    assert.equal(await writeToken(path, NEW), "unchanged");
    assert.equal((await Deno.stat(path)).mtime?.getTime(), past.getTime());
  });
});

Deno.test("writeToken() writes through a symlink and keeps the link", async () => {
  await withTempDir(TEMP_PREFIX, async (dir) => {
    await Deno.mkdir(`${dir}/real`);
    await Deno.writeTextFile(`${dir}/real/kite.env`, `A=1\nKITE_ACCESS_TOKEN=${OLD}\n`);
    await Deno.symlink("real/kite.env", `${dir}/.env`);
    await writeToken(`${dir}/.env`, NEW);
    assert.ok((await Deno.lstat(`${dir}/.env`)).isSymlink);
    assert.equal(await Deno.readLink(`${dir}/.env`), "real/kite.env");
    assert.equal(await readBytes(`${dir}/real/kite.env`), `A=1\nKITE_ACCESS_TOKEN=${NEW}\n`);
    assert.deepEqual(await listDir(`${dir}/real`), ["kite.env"]);
  });
});

Deno.test("writeToken() fails with the error code and no temp file when the directory is missing", async () => {
  await withTempDir(TEMP_PREFIX, async (dir) => {
    await assert.rejects(writeToken(`${dir}/absent/.env`, NEW), (error: unknown) => {
      assert.ok(error instanceof Error);
      assert.equal(error.message, "Failed to write .env: ENOENT");
      return true;
    });
    assert.deepEqual(await listDir(dir), []);
  });
});

Deno.test("writeToken() fails without touching a target that is a directory", async () => {
  await withTempDir(TEMP_PREFIX, async (dir) => {
    await Deno.mkdir(`${dir}/.env`);
    await Deno.writeTextFile(`${dir}/.env/inside`, "x");
    await assert.rejects(writeToken(`${dir}/.env`, NEW), (error: unknown) => {
      assert.ok(error instanceof Error);
      assert.equal(error.message, "Failed to write .env: EISDIR: a directory, not a regular file");
      assert.ok(!error.message.includes(NEW));
      return true;
    });
    assert.deepEqual(await listDir(dir), [".env"]);
    assert.deepEqual(await listDir(`${dir}/.env`), ["inside"]);
  });
});

Deno.test({
  name: "writeToken() removes its temp file and keeps the original when the write itself fails",
  ignore: Deno.build.os !== "linux",
  async fn() {
    await withTempDir(TEMP_PREFIX, async (dir) => {
      // Root ignores permissions, but not the file-size limit: with `ulimit -f 0` the temp
      // file is created and the write into it fails with EFBIG.
      const path = `${dir}/.env`;
      const before = `A=1\nKITE_ACCESS_TOKEN=${OLD}\n`;
      await Deno.writeTextFile(path, before);
      const script = `${dir}/write.ts`;
      await Deno.writeTextFile(
        script,
        `import { writeToken } from ${
          JSON.stringify(new URL("../../../src/token/env_file.ts", import.meta.url).href)
        };\n` +
          `try { await writeToken(${JSON.stringify(path)}, ${
            JSON.stringify(NEW)
          }); console.log("written"); }\n` +
          `catch (error) { console.log(String(error)); }\n`,
      );
      const config = new URL("../../../deno.json", import.meta.url).pathname;
      const shell =
        `trap '' XFSZ; ulimit -f 0; exec "$0" run --allow-all --no-check --config "$1" "$2"`;
      const output = await new Deno.Command("sh", {
        args: ["-c", shell, Deno.execPath(), config, script],
        stdout: "piped",
        stderr: "piped",
      }).output();
      await Deno.remove(script);
      const stdout = new TextDecoder().decode(output.stdout).trim();
      assert.equal(
        stdout,
        "Error: Failed to write .env: EFBIG",
        new TextDecoder().decode(output.stderr),
      );
      assert.equal(await readBytes(path), before);
      assert.deepEqual(await listDir(dir), [".env"]);
    });
  },
});

Deno.test("writeToken() refuses a token a .env line cannot hold, without echoing it", async () => {
  await withTempDir(TEMP_PREFIX, async (dir) => {
    const bad = "abc def\n#secret";
    await assert.rejects(writeToken(`${dir}/.env`, bad), (error: unknown) => {
      assert.ok(error instanceof TypeError);
      assert.ok(!error.message.includes("secret"));
      return true;
    });
    assert.deepEqual(await listDir(dir), []);
  });
});

Deno.test("checkEnvFileMode() warns about a group- or world-readable file only", async () => {
  await withTempDir(TEMP_PREFIX, async (dir) => {
    const path = `${dir}/.env`;
    assert.equal(await checkEnvFileMode(path), null);
    await Deno.writeTextFile(path, "A=1\n");
    await Deno.chmod(path, 0o644);
    assert.equal(
      await checkEnvFileMode(path),
      `${path} is accessible to group or others (mode 0644); run chmod 600 ${path}`,
    );
    await Deno.chmod(path, 0o600);
    assert.equal(await checkEnvFileMode(path), null);
  });
});
