import assert from "node:assert/strict";
import { shellQuote } from "../../lib/system/shell_quote.ts";

// Expected values were produced by Python 3 `shlex.quote`.

Deno.test("shellQuote() turns the empty string into ''", () => {
  assert.equal(shellQuote(""), "''");
});

Deno.test("shellQuote() leaves strings made only of [A-Za-z0-9_@%+=:,./-] unchanged", () => {
  for (
    const s of [
      "abc",
      "ABC_123",
      "x/y.z-w_1",
      "a=b:c,d@e%f+g",
      "-rf",
      "--x=1",
      "--alpha=0.5",
      "s3://bucket/key",
      "user@host:/path",
      "100%",
      "+1",
      ",",
      "=",
      ":",
      "@",
      "%",
      "/",
      ".",
    ]
  ) {
    assert.equal(shellQuote(s), s, s);
  }
});

Deno.test("shellQuote() single-quotes strings with shell metacharacters", () => {
  const cases: [string, string][] = [
    ["a b", "'a b'"],
    ["a;b", "'a;b'"],
    ["$(rm -rf /)", "'$(rm -rf /)'"],
    ["`id`", "'`id`'"],
    ['say "hi"', `'say "hi"'`],
    ["a\nb", "'a\nb'"],
    ["a\tb", "'a\tb'"],
    ["\\", "'\\'"],
    ["~", "'~'"],
    ["*", "'*'"],
    ["!", "'!'"],
    ["#", "'#'"],
    ["a&b|c>d<e", "'a&b|c>d<e'"],
    ["$HOME", "'$HOME'"],
    ["-x y", "'-x y'"],
  ];
  for (const [s, want] of cases) assert.equal(shellQuote(s), want, JSON.stringify(s));
});

Deno.test("shellQuote() escapes single quotes as '\"'\"'", () => {
  assert.equal(shellQuote("it's"), `'it'"'"'s'`);
  assert.equal(shellQuote("'"), `''"'"''`);
  assert.equal(shellQuote('"'), `'"'`);
  assert.equal(shellQuote("friend; echo 'hi'"), `'friend; echo '"'"'hi'"'"''`);
});

Deno.test("shellQuote() quotes non-ASCII letters (Python's \\w is ASCII-only in shlex)", () => {
  assert.equal(shellQuote("é"), "'é'");
  assert.equal(shellQuote("café"), "'café'");
  assert.equal(shellQuote("日本"), "'日本'");
});

// Executed for real: substitutions are harmless (`echo`) in case quoting ever breaks.
const HOSTILE = [
  "",
  " ",
  "a b",
  "a;b",
  "$(echo pwned)",
  "`id`",
  "it's",
  "'",
  "''",
  '"',
  `'"'"'`,
  'say "hi" \\"',
  "a\nb",
  "\n",
  "trailing\n\n",
  "tab\there",
  "é 日本 🎉",
  "-n",
  "-e",
  "--help",
  "$HOME ${PATH} $((1+1))",
  "*",
  "~",
  "!!",
  "a&&b||c",
  "x > /dev/null",
  "\\n\\t\\\\",
  "%s %d",
  "{x}",
  "#comment",
  "a=b",
];

Deno.test("shellQuote() output, run by bash, gives back every hostile string exactly", async () => {
  const script = HOSTILE.map((s) => `printf '%s\\0' ${shellQuote(s)}`).join("\n");
  const out = await new Deno.Command("bash", {
    args: ["-c", script],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).output();
  assert.equal(new TextDecoder().decode(out.stderr), "");
  assert.equal(out.code, 0);
  const got = new TextDecoder().decode(out.stdout).split("\0");
  assert.equal(got.pop(), "");
  assert.deepEqual(got, HOSTILE);
});

Deno.test("shellQuote() output is one argv word each for bash printf %s", async () => {
  for (const s of HOSTILE) {
    const out = await new Deno.Command("bash", {
      args: ["-c", `printf %s ${shellQuote(s)}`],
      stdout: "piped",
      stderr: "piped",
      stdin: "null",
    }).output();
    assert.equal(out.code, 0, JSON.stringify(s));
    assert.equal(new TextDecoder().decode(out.stdout), s, JSON.stringify(s));
  }
});
