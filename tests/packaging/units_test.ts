import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { onPath, run } from "../_support/run.ts";
import { withTempDir } from "../_support/temp_dir.ts";

const UNIT = new URL("../../scripts/kitekeeper.service", import.meta.url);
const PLIST = new URL("../../scripts/com.kitekeeper.plist", import.meta.url);
const INSTALLED_BINARY = "/usr/local/bin/kitekeeper";
const MAX_EXPOSURE = 1.5;
const TEMP_PREFIX = "kitekeeper_units_";

// ---------------------------------------------------------------------------------------
// systemd

/** `[Section]` → key → every value given, in order (systemd keys may repeat). */
type UnitFile = Record<string, Record<string, string[]>>;

function parseUnit(text: string): UnitFile {
  const unit: UnitFile = {};
  let section: Record<string, string[]> | undefined;
  for (const [index, raw] of text.split("\n").entries()) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const header = /^\[([A-Za-z]+)\]$/.exec(line);
    if (header !== null) {
      section = unit[header[1]!] = {};
      continue;
    }
    const pair = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (pair === null || section === undefined) {
      throw new SyntaxError(`Failed to parse unit: line ${index + 1} ${JSON.stringify(raw)}`);
    }
    (section[pair[1]!] ??= []).push(pair[2]!);
  }
  return unit;
}

/** The one value of `key` in `[Service]`. */
function single(unit: UnitFile, key: string): string {
  const values = unit.Service?.[key] ?? [];
  assert.equal(values.length, 1, `[Service] ${key}= should appear once: ${values.join(" | ")}`);
  return values[0]!;
}

/** Why systemd-analyze cannot check the unit here, or undefined when it can. */
async function systemdAnalyzeMissing(): Promise<string | undefined> {
  const path = await onPath("systemd-analyze");
  if (path === undefined) return "systemd-analyze is not on PATH";
  try {
    const help = await run(path, ["--help"]);
    // `security --offline` arrived in systemd 250.
    if (!help.stdout.includes("--offline")) return `${path} has no --offline (systemd < 250)`;
  } catch (error: unknown) {
    return `${path} does not run: ${error instanceof Error ? error.message : String(error)}`;
  }
  return undefined;
}

const SKIP_SYSTEMD = await systemdAnalyzeMissing();
if (SKIP_SYSTEMD !== undefined) {
  console.log(`units_test: skipping systemd-analyze: ${SKIP_SYSTEMD}`);
}

/**
 * Copies the unit into `dir` for systemd-analyze. Without an installed binary, ExecStart
 * points at a stand-in script there, since `verify` rejects a missing executable.
 */
async function unitCopy(dir: string, edit: (text: string) => string): Promise<string> {
  let text = edit(await Deno.readTextFile(UNIT));
  const installed = await Deno.stat(INSTALLED_BINARY).then(() => true, () => false);
  if (!installed) {
    const standIn = join(dir, "kitekeeper");
    await Deno.writeTextFile(standIn, "#!/bin/sh\nexit 0\n");
    await Deno.chmod(standIn, 0o755);
    text = text.replaceAll(`ExecStart=${INSTALLED_BINARY} `, `ExecStart=${standIn} `);
  }
  const path = join(dir, "kitekeeper.service");
  await Deno.writeTextFile(path, text);
  return path;
}

/** Problems `systemd-analyze verify` reports for the unit (it exits 0 on unknown keys). */
async function verifyProblems(path: string): Promise<string[]> {
  const result = await run("systemd-analyze", ["verify", "--man=no", path]);
  const lines = `${result.stdout}\n${result.stderr}`.split("\n");
  const problems = lines.filter((line) => line.includes("kitekeeper.service"));
  if (result.code !== 0) problems.push(`exit code ${result.code}: ${result.stderr.trim()}`);
  return problems;
}

async function exposure(path: string): Promise<number> {
  const result = await run("systemd-analyze", ["security", "--offline=true", "--no-pager", path]);
  const match = /Overall exposure level for \S+: (\d+(?:\.\d+)?)/.exec(result.stdout);
  assert.ok(match !== null, `no exposure level in: ${result.stdout}\n${result.stderr}`);
  return Number(match[1]);
}

Deno.test("kitekeeper.service runs the binary as kitekeeper, writable only in the .env directory", async () => {
  const unit = parseUnit(await Deno.readTextFile(UNIT));
  assert.equal(single(unit, "Type"), "simple", "kitekeeper sends no sd_notify READY=1");
  assert.equal(single(unit, "User"), "kitekeeper");
  assert.equal(single(unit, "Restart"), "on-failure");
  const exec = /^(\S+) run --env-file (\S+) --listen 127\.0\.0\.1:\d+$/.exec(
    single(unit, "ExecStart"),
  );
  assert.ok(exec !== null, `ExecStart: ${single(unit, "ExecStart")}`);
  assert.equal(exec[1], INSTALLED_BINARY);
  assert.equal(single(unit, "ReadWritePaths"), dirname(exec[2]!));
  assert.equal(single(unit, "ProtectSystem"), "strict");
  assert.equal(single(unit, "CapabilityBoundingSet"), "");
  assert.equal(single(unit, "NoNewPrivileges"), "yes");
  assert.equal(single(unit, "UMask"), "0077");
  assert.equal(single(unit, "SystemCallArchitectures"), "native");
  assert.ok(
    (unit.Service?.SystemCallFilter ?? []).includes("@system-service"),
    "SystemCallFilter=@system-service",
  );
  assert.equal(
    unit.Service?.MemoryDenyWriteExecute,
    undefined,
    "V8's JIT needs W+X memory: MemoryDenyWriteExecute= would crash the daemon",
  );
  assert.deepEqual(unit.Install?.WantedBy, ["multi-user.target"]);
});

Deno.test({
  name: "kitekeeper.service passes systemd-analyze verify, which flags a broken copy",
  ignore: SKIP_SYSTEMD !== undefined,
  async fn() {
    await withTempDir(TEMP_PREFIX, async (dir) => {
      assert.deepEqual(await verifyProblems(await unitCopy(dir, (text) => text)), []);
      const broken = await unitCopy(
        dir,
        (text) => text.replace("ProtectSystem=strict", "ProtectSystem=stricter\nRestartSecs=1"),
      );
      const problems = await verifyProblems(broken);
      assert.ok(
        problems.some((line) => /ProtectSystem|protect system/i.test(line)),
        problems.join("\n"),
      );
      assert.ok(problems.some((line) => line.includes("RestartSecs")), problems.join("\n"));
    });
  },
});

Deno.test({
  name: `kitekeeper.service scores at most ${MAX_EXPOSURE} in systemd-analyze security`,
  ignore: SKIP_SYSTEMD !== undefined,
  async fn() {
    await withTempDir(TEMP_PREFIX, async (dir) => {
      const score = await exposure(await unitCopy(dir, (text) => text));
      console.log(`systemd-analyze security --offline=true: overall exposure ${score}`);
      assert.ok(score <= MAX_EXPOSURE, `exposure ${score} > ${MAX_EXPOSURE}`);
      // The measure is live: the same unit without its hardening scores far worse.
      const bare = await unitCopy(
        dir,
        (text) => text.replace(/^# Filesystem:[\s\S]*?(?=^\[Install\])/m, ""),
      );
      const bareScore = await exposure(bare);
      assert.ok(bareScore > score + 3, `unhardened copy scored ${bareScore}`);
    });
  },
});

// ---------------------------------------------------------------------------------------
// launchd

const APPLE_PROLOGUE = '<?xml version="1.0" encoding="UTF-8"?>\n' +
  '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" ' +
  '"http://www.apple.com/DTDs/PropertyList-1.0.dtd">\n';

type PlistValue = string | number | boolean | Date | Uint8Array | PlistValue[] | PlistDict;
interface PlistDict {
  [key: string]: PlistValue;
}

/** A node of fast-xml-parser's `preserveOrder` output. */
type XmlNode = Record<string, unknown>;

function elementName(node: XmlNode): string | undefined {
  return Object.keys(node).find((key) => key !== ":@" && key !== "#text");
}

/** Child elements of `children`, failing on any text between them (whitespace aside). */
function elements(children: unknown, where: string): XmlNode[] {
  assert.ok(Array.isArray(children), `${where}: no children`);
  const found: XmlNode[] = [];
  for (const child of children as XmlNode[]) {
    if ("#text" in child) {
      assert.match(String(child["#text"]), /^\s*$/, `${where}: stray text`);
      continue;
    }
    found.push(child);
  }
  return found;
}

function text(node: XmlNode, name: string): string {
  const children = node[name] as XmlNode[];
  assert.ok(children.every((child) => "#text" in child), `<${name}> holds elements`);
  return children.map((child) => String(child["#text"])).join("");
}

/** The value of one plist element; anything outside Apple's DTD is an error. */
function plistValue(node: XmlNode, where: string): PlistValue {
  const name = elementName(node);
  assert.ok(name !== undefined, `${where}: not an element`);
  assert.equal(node[":@"], undefined, `${where}: <${name}> takes no attributes`);
  switch (name) {
    case "string":
      return text(node, name);
    case "integer": {
      const value = text(node, name).trim();
      assert.match(value, /^[+-]?\d+$/, `${where}: <integer>${value}</integer>`);
      return Number(value);
    }
    case "real": {
      const value = Number(text(node, name).trim());
      assert.ok(Number.isFinite(value), `${where}: bad <real>`);
      return value;
    }
    case "true":
    case "false":
      assert.deepEqual(node[name], [], `${where}: <${name}/> must be empty`);
      return name === "true";
    case "date": {
      const value = text(node, name).trim();
      assert.match(value, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/, `${where}: bad <date>`);
      return new Date(value);
    }
    case "data":
      return Uint8Array.from(atob(text(node, name).replace(/\s+/g, "")), (c) => c.charCodeAt(0));
    case "array":
      return elements(node[name], where).map((child, i) => plistValue(child, `${where}[${i}]`));
    case "dict": {
      const children = elements(node[name], where);
      assert.equal(children.length % 2, 0, `${where}: a <key> without a value`);
      const dict: PlistDict = {};
      for (let i = 0; i < children.length; i += 2) {
        const keyNode = children[i]!;
        assert.equal(elementName(keyNode), "key", `${where}: expected <key>`);
        const key = text(keyNode, "key");
        assert.ok(!(key in dict), `${where}: duplicate key ${key}`);
        dict[key] = plistValue(children[i + 1]!, `${where}.${key}`);
      }
      return dict;
    }
    default:
      throw new assert.AssertionError({ message: `${where}: <${name}> is not a plist type` });
  }
}

/** Parses an XML property list strictly: Apple's prologue, well-formed, DTD types only. */
function parsePlist(source: string): PlistValue {
  assert.ok(source.startsWith(APPLE_PROLOGUE), "the XML declaration and Apple's DOCTYPE first");
  const valid = XMLValidator.validate(source);
  assert.equal(valid, true, `not well-formed XML: ${JSON.stringify(valid)}`);
  const parser = new XMLParser({
    preserveOrder: true,
    ignoreAttributes: false,
    attributeNamePrefix: "",
    parseTagValue: false,
    parseAttributeValue: false,
    trimValues: false,
  });
  const roots = elements(parser.parse(source), "document")
    .filter((node) => elementName(node) !== "?xml");
  assert.equal(roots.length, 1, "one root element");
  const root = roots[0]!;
  assert.equal(elementName(root), "plist");
  assert.deepEqual(root[":@"], { version: "1.0" }, '<plist version="1.0">');
  const values = elements(root.plist, "plist");
  assert.equal(values.length, 1, "<plist> holds one value");
  return plistValue(values[0]!, "plist");
}

/** launchd.plist(5) keys this project may use; a typo (e.g. `Keepalive`) fails the test. */
const LAUNCHD_KEYS = new Set([
  "Label",
  "ProgramArguments",
  "WorkingDirectory",
  "RunAtLoad",
  "KeepAlive",
  "ThrottleInterval",
  "Umask",
  "ProcessType",
  "StandardOutPath",
  "StandardErrorPath",
  "EnvironmentVariables",
  "UserName",
  "GroupName",
]);

Deno.test("com.kitekeeper.plist is an Apple XML property list with launchd's keys and types", async () => {
  const plist = parsePlist(await Deno.readTextFile(PLIST));
  assert.ok(typeof plist === "object" && !Array.isArray(plist) && !(plist instanceof Date));
  const dict = plist as PlistDict;
  for (const key of Object.keys(dict)) assert.ok(LAUNCHD_KEYS.has(key), `unknown key ${key}`);

  assert.equal(dict.Label, "com.kitekeeper");
  const args = dict.ProgramArguments;
  assert.ok(Array.isArray(args) && args.every((arg) => typeof arg === "string"));
  const [binary, subcommand, envFlag, envFile, listenFlag, listen] = args as string[];
  assert.equal(args.length, 6);
  assert.match(binary!, /^\/.*\/kitekeeper$/);
  assert.deepEqual([subcommand, envFlag, listenFlag], ["run", "--env-file", "--listen"]);
  assert.match(envFile!, /^\/.+\/\.env$/);
  assert.match(listen!, /^127\.0\.0\.1:\d+$/);
  assert.equal(dict.WorkingDirectory, dirname(envFile!));
  assert.equal(dict.RunAtLoad, true);
  // Restart after a crash, not after a clean exit (systemd's Restart=on-failure).
  assert.deepEqual(dict.KeepAlive, { SuccessfulExit: false });
  assert.equal(typeof dict.ThrottleInterval, "number");
  assert.equal(dict.Umask, 0o077);
  for (const key of ["StandardOutPath", "StandardErrorPath"]) {
    assert.equal(typeof dict[key], "string", key);
    assert.match(dict[key] as string, /^\/.+\.log$/, key);
  }
});

Deno.test("parsePlist() rejects what launchd would: bad types, a lone key, no version", () => {
  const wrap = (body: string, open = '<plist version="1.0">') =>
    `${APPLE_PROLOGUE}${open}\n${body}\n</plist>\n`;
  assert.deepEqual(
    parsePlist(wrap("<dict><key>a</key><integer>7</integer><key>b</key><true/></dict>")),
    { a: 7, b: true },
  );
  const bad = [
    wrap("<dict><key>a</key><bool>yes</bool></dict>"),
    wrap("<dict><key>a</key></dict>"),
    wrap("<dict><key>a</key><integer>ten</integer></dict>"),
    wrap("<dict><key>a</key><string>x</string><key>a</key><string>y</string></dict>"),
    wrap("<dict><key>a</key><string>x</dict>"),
    wrap("<dict/>", "<plist>"),
    wrap("<dict/><dict/>"),
    wrap("<dict>text<key>a</key><true/></dict>"),
    '<?xml version="1.0" encoding="UTF-8"?>\n<plist version="1.0"><dict/></plist>\n',
  ];
  for (const source of bad) {
    assert.throws(() => parsePlist(source), assert.AssertionError, source);
  }
});
