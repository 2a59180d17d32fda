import assert from "node:assert/strict";
import { closeMatches, similarity } from "../../cli/close_matches.ts";
import { hostPython } from "../_helpers/components.ts";

const OPTIONS = [
  "--entry-point",
  "--version",
  "--param-list",
  "--docker-args",
  "--experiment-name",
  "--experiment-id",
  "--backend",
  "--backend-config",
  "--env-manager",
  "--storage-dir",
  "--run-id",
  "--run-name",
  "--build-image",
  "--json",
  "--dry-run",
  "--keep-work-dir",
  "--upgrade-db",
  "--help",
];
const TYPOS = [
  "--env-manger",
  "--entry",
  "--experiment",
  "--dryrun",
  "--run",
  "--backend-conf",
  "--jsno",
  "--versoin",
  "--help-me",
  "--zzzzzz",
  "--param",
  "--storagedir",
  "--upgrade",
  "--keep",
  "abxcd",
  "",
];

Deno.test("similarity() and closeMatches() agree with Python's difflib (click's suggestions)", async () => {
  const python = await hostPython();
  const script = `
import difflib, json, sys
words, options = json.load(sys.stdin)
print(json.dumps([
  {"word": w,
   "matches": difflib.get_close_matches(w, options),
   "ratios": [difflib.SequenceMatcher(None, o, w).ratio() for o in options]}
  for w in words]))
`;
  const child = new Deno.Command(python.path, {
    args: ["-c", script],
    stdin: "piped",
    stdout: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(JSON.stringify([TYPOS, OPTIONS])));
  await writer.close();
  const out = await child.output();
  assert.ok(out.success);
  const expected = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    word: string;
    matches: string[];
    ratios: number[];
  }[];
  for (const { word, matches, ratios } of expected) {
    assert.deepEqual(closeMatches(word, OPTIONS), matches, word);
    OPTIONS.forEach((o, i) => assert.ok(Math.abs(similarity(o, word) - ratios[i]!) < 1e-12, o));
  }
  // The comparison is not vacuous: some typos have one match, some several, some none.
  const counts = new Set(expected.map((e) => Math.min(e.matches.length, 2)));
  assert.deepEqual([...counts].sort(), [0, 1, 2]);
});
