import assert from "node:assert/strict";
import { shellSplit } from "../../lib/system/shell_split.ts";

Deno.test("shellSplit() splits as Python's shlex.split", () => {
  assert.deepEqual(shellSplit(`python t.py --name 'a b' "c\\"d" "x\\$y" a\\ b '' it's'`), [
    "python",
    "t.py",
    "--name",
    "a b",
    'c"d',
    "x\\$y",
    "a b",
    "",
    "its",
  ]);
  assert.deepEqual(shellSplit("  a\tb\n c  "), ["a", "b", "c"]);
  assert.throws(() => shellSplit("echo 'open"), /No closing quotation/);
  assert.throws(() => shellSplit("echo \\"), /No escaped character/);
});
