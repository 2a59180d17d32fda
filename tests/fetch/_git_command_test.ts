import assert from "node:assert/strict";
import { gitErrorLine } from "../../lib/fetch/_git_command.ts";

Deno.test("gitErrorLine() keeps git's error and drops its advice", () => {
  assert.equal(
    gitErrorLine(
      "fatal: Could not read from remote repository.\n\nPlease make sure you have the correct access rights\nand the repository exists.\n",
    ),
    "fatal: Could not read from remote repository.",
  );
  assert.equal(gitErrorLine("hint: x\nerror: a\nfatal: b\nmore\n"), "error: a fatal: b");
});

Deno.test("gitErrorLine() keeps the ssh line that explains the failure", () => {
  assert.equal(
    gitErrorLine(
      "ssh: Could not resolve hostname h: Name or service not known\nfatal: Could not read from remote repository.\n",
    ),
    "ssh: Could not resolve hostname h: Name or service not known fatal: Could not read from remote repository.",
  );
  assert.equal(gitErrorLine("just text\n"), "just text");
  assert.equal(gitErrorLine(""), "git failed");
});
