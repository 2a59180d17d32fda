import assert from "node:assert/strict";

Deno.test("stderrReporter() writes MLflow-style timestamped lines to stderr only", async () => {
  const script = `import { stderrReporter } from ${
    JSON.stringify(new URL("../../lib/system/output.ts", import.meta.url).href)
  };
stderrReporter().log("INFO", "=== hello ===");
stderrReporter().log("ERROR", "=== bad ===");`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", script],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  assert.equal(dec.decode(out.stdout), "");
  const lines = dec.decode(out.stderr).trimEnd().split("\n");
  assert.match(lines[0]!, /^\d{4}\/\d{2}\/\d{2} \d{2}:\d{2}:\d{2} INFO mlproject: === hello ===$/);
  assert.match(lines[1]!, /^\d{4}\/\d{2}\/\d{2} \d{2}:\d{2}:\d{2} ERROR mlproject: === bad ===$/);
});
