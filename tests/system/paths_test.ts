import assert from "node:assert/strict";
import * as node from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import {
  dirname,
  extname,
  fileUrlToPath,
  isAbsolute,
  join,
  normalize,
  pathToFileUrl,
  relative,
  resolve,
} from "../../lib/system/paths.ts";

const SAMPLES = ["/a/b/../c", "a/./b//c/", "../x", "/", ".", "", "/a/b/c.txt", "a/..", "../../a/b"];

Deno.test("paths helpers agree with node:path for POSIX paths", () => {
  for (const p of SAMPLES) {
    assert.equal(normalize(p), node.posix.normalize(p).replace(/(.)\/$/, "$1"), p);
    assert.equal(isAbsolute(p), node.posix.isAbsolute(p), p);
    assert.equal(resolve("/base/dir", p), node.posix.resolve("/base/dir", p), p);
    if (p !== "") {
      assert.equal(
        normalize(dirname(p)),
        node.posix.normalize(node.posix.dirname(p)).replace(/(.)\/$/, "$1"),
        p,
      );
    }
    assert.equal(extname(p), node.posix.extname(p), p);
    assert.equal(join("/r", p), node.posix.join("/r", p).replace(/(.)\/$/, "$1"), p);
  }
  assert.equal(relative("/a/b", "/a/c/d"), node.posix.relative("/a/b", "/a/c/d"));
  assert.equal(relative("/a", "/a"), "");
  assert.equal(resolve("rel"), node.resolve("rel"));
});

Deno.test("file URL helpers agree with node:url and refuse remote hosts", () => {
  for (const p of ["/a b/c", "/ünï/x#y?z", "/with%percent", "/plain"]) {
    assert.equal(pathToFileUrl(p), pathToFileURL(p).href, p);
    assert.equal(fileUrlToPath(pathToFileURL(p).href), fileURLToPath(pathToFileURL(p).href), p);
  }
  assert.equal(fileUrlToPath("file://localhost/x"), "/x");
  assert.throws(() => fileUrlToPath("file://host/x"), TypeError);
});
