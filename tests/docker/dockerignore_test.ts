import assert from "node:assert/strict";
import { dockerignoreMatcher, parseDockerignore } from "../../lib/docker/dockerignore.ts";
import { ExecutionException } from "../../lib/system/errors.ts";

function excluded(text: string, paths: string[]): string[] {
  const m = dockerignoreMatcher(parseDockerignore(text));
  return paths.filter((p) => m.excludes(p));
}

Deno.test("parseDockerignore() drops comments and blanks, trims, strips a leading slash, cleans paths", () => {
  const text = "\uFEFFtest1\n/test2\n/a/file/here\n\nlastfile\n# comment\n! /inverted/abs/path\n" +
    "  ./x//y/../z/  \n #not-a-comment\r\n";
  assert.deepEqual(parseDockerignore(text), [
    "test1",
    "test2",
    "a/file/here",
    "lastfile",
    "!inverted/abs/path",
    "x/z",
    "#not-a-comment",
  ]);
});

Deno.test("a pattern naming a directory excludes everything under it", () => {
  assert.deepEqual(
    excluded("data\n", ["data", "data/a.csv", "data/sub/b.csv", "src/data", "database.py"]),
    ["data", "data/a.csv", "data/sub/b.csv"],
  );
});

Deno.test("* and ? stay within one path element; the pattern is anchored at the context root", () => {
  assert.deepEqual(
    excluded("*.pyc\nlog?.txt\n", ["a.pyc", "src/a.pyc", "log1.txt", "log12.txt", "x/log1.txt"]),
    ["a.pyc", "log1.txt"],
  );
  assert.deepEqual(excluded("*/temp*\n", ["temp.txt", "a/temp.txt", "a/b/temp.txt"]), [
    "a/temp.txt",
  ]);
});

Deno.test("** matches any number of directories, including none", () => {
  assert.deepEqual(
    excluded("**/*.pyc\n", ["a.pyc", "src/a.pyc", "src/deep/er/a.pyc", "a.py"]),
    ["a.pyc", "src/a.pyc", "src/deep/er/a.pyc"],
  );
  assert.deepEqual(
    excluded("**/__pycache__\n", ["__pycache__/x", "pkg/__pycache__/m.pyc", "pkg/cache"]),
    ["__pycache__/x", "pkg/__pycache__/m.pyc"],
  );
  assert.deepEqual(excluded("build/**\n", ["build/a", "build/x/y", "builder"]), [
    "build/a",
    "build/x/y",
  ]);
  assert.deepEqual(excluded("a/**/z\n", ["a/z", "a/b/z", "a/b/c/z", "b/z"]), [
    "a/z",
    "a/b/z",
    "a/b/c/z",
  ]);
});

Deno.test("! exceptions re-include, and the last matching line wins", () => {
  const text = "*.md\n!README.md\nREADME-secret.md\n";
  assert.deepEqual(excluded(text, ["a.md", "README.md", "README-secret.md"]), [
    "a.md",
    "README-secret.md",
  ]);
  assert.deepEqual(excluded("data\n!data/keep.txt\n", ["data/x", "data/keep.txt"]), ["data/x"]);
  assert.deepEqual(excluded("!keep\n*\n", ["keep", "other"]), ["keep", "other"]);
  assert.equal(dockerignoreMatcher(parseDockerignore("data\n!data/keep\n")).hasExceptions, true);
});

Deno.test("character classes and escapes follow Go's filepath.Match", () => {
  assert.deepEqual(excluded("file[0-9].txt\n", ["file1.txt", "filex.txt"]), ["file1.txt"]);
  assert.deepEqual(excluded("file[^0-9].txt\n", ["file1.txt", "filex.txt"]), ["filex.txt"]);
  assert.deepEqual(excluded("what\\?.txt\n", ["what?.txt", "whatx.txt"]), ["what?.txt"]);
  assert.deepEqual(excluded("a.b\n", ["a.b", "axb"]), ["a.b"]);
});

Deno.test("a lone ! and an unclosed [ are errors naming the file, as Docker refuses them", () => {
  assert.throws(
    () => dockerignoreMatcher(["!"], { origin: "/p/.dockerignore" }),
    (e: unknown) =>
      e instanceof ExecutionException &&
      e.message === '/p/.dockerignore: illegal exclusion pattern: "!"',
  );
  assert.throws(
    () => dockerignoreMatcher(["data["]),
    (e: unknown) =>
      e instanceof ExecutionException && /syntax error in pattern 'data\['/.test(e.message),
  );
});

Deno.test("no patterns exclude nothing, and the context root itself is never excluded", () => {
  const m = dockerignoreMatcher([]);
  assert.equal(m.excludes("a"), false);
  assert.equal(dockerignoreMatcher(["*"]).excludes("."), false);
});

Deno.test("an excluded directory is walked only when an exception's text starts with it (Docker's rule)", () => {
  const m = dockerignoreMatcher(parseDockerignore("data\n!data/keep.txt\n.venv\n!**/x.txt\n"));
  assert.equal(m.mayReinclude("data"), true);
  assert.equal(m.mayReinclude(".venv"), false);
  assert.equal(m.mayReinclude("dat"), false);
});
