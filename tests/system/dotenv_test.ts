import assert from "node:assert/strict";
import { UsageError } from "../../lib/system/errors.ts";
import { loadDotenv, parseDotenv } from "../../lib/system/dotenv.ts";
import { tempDir, writeFiles } from "../_helpers/cli.ts";

Deno.test("parseDotenv() reads KEY=value lines in file order", () => {
  assert.deepEqual([...parseDotenv("B=2\nA=1\nC=three\n")], [["B", "2"], ["A", "1"], [
    "C",
    "three",
  ]]);
});

Deno.test("parseDotenv() trims spaces around keys, = and bare values", () => {
  assert.deepEqual([...parseDotenv("  A = spaced value  \nB=\tx\t\n")], [
    ["A", "spaced value"],
    ["B", "x"],
  ]);
});

Deno.test("parseDotenv() accepts an export prefix", () => {
  assert.deepEqual([...parseDotenv("export A=1\nexport   B='x y'\n")], [["A", "1"], ["B", "x y"]]);
});

Deno.test("parseDotenv() skips comments, blank lines and lines without =", () => {
  const text =
    "# comment\n\nA=1 # trailing comment\n  # indented comment\nNOT A LINE\nJUSTKEY\nB=2\n";
  assert.deepEqual([...parseDotenv(text)], [["A", "1"], ["B", "2"]]);
});

Deno.test("parseDotenv() keeps single-quoted values literally", () => {
  const env = parseDotenv(`A='x # not a comment'\nB='a\\nb $HOME "q"'\n`);
  assert.equal(env.get("A"), "x # not a comment");
  assert.equal(env.get("B"), 'a\\nb $HOME "q"');
});

Deno.test('parseDotenv() unescapes \\n, \\t, \\" and \\\\ in double-quoted values', () => {
  const env = parseDotenv(
    `A="1\\n2"\nB="tab\\there"\nC="say \\"hi\\""\nD="back\\\\slash"\nE="# kept" # dropped\n`,
  );
  assert.equal(env.get("A"), "1\n2");
  assert.equal(env.get("B"), "tab\there");
  assert.equal(env.get("C"), 'say "hi"');
  assert.equal(env.get("D"), "back\\slash");
  assert.equal(env.get("E"), "# kept");
});

Deno.test("parseDotenv() reads quoted empty values as empty strings", () => {
  assert.deepEqual([...parseDotenv("B=''\nC=\"\"\nD=\n")], [["B", ""], ["C", ""], ["D", ""]]);
});

Deno.test("parseDotenv() reads a bare empty value as '' without swallowing the next line", () => {
  assert.deepEqual([...parseDotenv("A=\nB=2\n")], [["A", ""], ["B", "2"]]);
  assert.deepEqual([...parseDotenv("A=\n\nB='x'\n")], [["A", ""], ["B", "x"]]);
});

Deno.test("parseDotenv() keeps = inside values", () => {
  assert.equal(parseDotenv("URL=postgres://u:p@h/db?x=1\n").get("URL"), "postgres://u:p@h/db?x=1");
});

Deno.test("parseDotenv() lets a later duplicate key win", () => {
  assert.deepEqual([...parseDotenv("A=1\nA=2\n")], [["A", "2"]]);
});

Deno.test("parseDotenv() accepts CRLF line endings", () => {
  assert.deepEqual([...parseDotenv("A=1\r\nB='2'\r\n")], [["A", "1"], ["B", "2"]]);
});

Deno.test("parseDotenv() refuses keys that are not identifiers", () => {
  assert.deepEqual([...parseDotenv("1A=x\nA-B=y\nOK_1.x=z\n")], [["OK_1.x", "z"]]);
});

Deno.test("loadDotenv() sets only variables that are not already set", async () => {
  await using dir = await tempDir();
  await writeFiles(dir.path, { ".env": "A=from-file\nB=from-file\nEMPTY=from-file\n" });
  const env: Record<string, string> = { A: "from-shell", EMPTY: "" };
  const set = loadDotenv(`${dir.path}/.env`, env);
  assert.deepEqual(set, ["B"]);
  assert.deepEqual(env, { A: "from-shell", B: "from-file", EMPTY: "" });
});

Deno.test("loadDotenv() reports a missing file as a usage error", async () => {
  await using dir = await tempDir();
  const env: Record<string, string> = {};
  assert.throws(() => loadDotenv("x", env), (e: unknown) => {
    assert.ok(e instanceof UsageError);
    assert.equal(e.exitCode, 2);
    assert.equal(e.message, "Environment file 'x' does not exist.");
    return true;
  });
  assert.throws(
    () => loadDotenv(`${dir.path}/nope.env`, env),
    { message: `Environment file '${dir.path}/nope.env' does not exist.` },
  );
  assert.deepEqual(env, {});
});
