/**
 * PEP 440 parsing and ordering.
 */
import assert from "node:assert/strict";
import { comparePep440, parsePep440 } from "../lib/pep440.ts";

Deno.test("comparePep440() orders dev < pre (a < b < rc) < final < post, numerically per release part", () => {
  const ordered = [
    "1.0.dev0",
    "1.0a1.dev1",
    "1.0a1",
    "1.0a2",
    "1.0b1",
    "1.0rc0",
    "1.0rc1",
    "1.0",
    "1.0+local.1",
    "1.0.post0.dev0",
    "1.0.post0",
    "1.0.post1",
    "1.1.dev0",
    "1.1",
    "1.9",
    "1.10",
    "2!0.1",
  ];
  for (let i = 0; i < ordered.length; i++) {
    for (let j = 0; j < ordered.length; j++) {
      const got = Math.sign(comparePep440(ordered[i]!, ordered[j]!));
      assert.equal(got, Math.sign(i - j), `${ordered[i]} vs ${ordered[j]}`);
    }
  }
});

Deno.test("comparePep440() treats PEP 440 spellings of the same version as equal", () => {
  for (
    const [a, b] of [
      ["1.0", "1.0.0"],
      ["1.0RC1", "1.0rc1"],
      ["1.0c1", "1.0rc1"],
      ["1.0-alpha.2", "1.0a2"],
      ["1.0-1", "1.0.post1"],
      ["1.0.rev1", "1.0.post1"],
      ["1.0.post", "1.0.post0"],
      ["1.0-dev", "1.0.dev0"],
      ["v3.7.0", "3.7.0"],
      ["0!3.7", "3.7.0"],
    ]
  ) assert.equal(comparePep440(a!, b!), 0, `${a} = ${b}`);
});

Deno.test("parsePep440() splits the parts and rejects what is not a version", () => {
  assert.deepEqual(parsePep440("1!2.3.4rc5.post6.dev7+ubuntu.1"), {
    epoch: 1,
    release: [2, 3, 4],
    pre: ["rc", 5],
    post: 6,
    dev: 7,
    local: ["ubuntu", "1"],
  });
  for (const bad of ["", "abc", "1.0-", "1..0", "1.0+", "3.7.0 beta"]) {
    assert.equal(parsePep440(bad), undefined, bad);
  }
  assert.throws(
    () => comparePep440("3.7", "nope"),
    (e) => e instanceof SyntaxError && /'nope'/.test(e.message),
  );
});
