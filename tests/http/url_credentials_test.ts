import assert from "node:assert/strict";
import { stripCredentials } from "../../lib/http/url_credentials.ts";

Deno.test("stripCredentials() removes the whole user info of http(s) URLs", () => {
  assert.equal(stripCredentials("https://user:tok@h/r.git"), "https://h/r.git");
  assert.equal(
    stripCredentials("https://ghp_token@github.com/o/r#sub"),
    "https://github.com/o/r#sub",
  );
  assert.equal(stripCredentials("http://h:8080/r.git"), "http://h:8080/r.git");
});

Deno.test("stripCredentials() keeps ssh user names but drops passwords", () => {
  assert.equal(stripCredentials("ssh://git@h/r.git"), "ssh://git@h/r.git");
  assert.equal(stripCredentials("ssh://git:pw@h/r.git"), "ssh://git@h/r.git");
  assert.equal(stripCredentials("git@github.com:o/r.git"), "git@github.com:o/r.git");
});

Deno.test("stripCredentials() cleans every URL inside a text", () => {
  assert.equal(
    stripCredentials("fatal: unable to access 'https://a:b@h/x/': refused; see http://c@d/e"),
    "fatal: unable to access 'https://h/x/': refused; see http://d/e",
  );
});
