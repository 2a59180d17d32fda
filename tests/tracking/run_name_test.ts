import assert from "node:assert/strict";
import { generateRunName } from "../../lib/tracking/run_name.ts";

Deno.test("generateRunName() gives adjective-noun-N names of at most 20 characters", () => {
  const names = new Set<string>();
  for (let i = 0; i < 2000; i++) {
    const name = generateRunName();
    assert.match(name, /^[a-z]+-[a-z]+-(\d|[1-9]\d{1,2}|1000)$/);
    assert.ok(name.length <= 20, name);
    names.add(name);
  }
  assert.ok(names.size > 1500, "names are random");
});
