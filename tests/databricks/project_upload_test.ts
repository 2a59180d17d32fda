/**
 * uploadProject with the tarball cache against the fake workspace: an unchanged project's second
 * upload step builds no archive (DBFS has it: only `get-status`), a deleted DBFS file is uploaded
 * again from the cached tarball, byte for byte, and a changed project is archived again.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { DbfsClient } from "../../lib/databricks/dbfs_client.ts";
import { projectTarball } from "../../lib/databricks/project_tarball.ts";
import { uploadProject } from "../../lib/databricks/project_upload.ts";
import { openWorkspace } from "../../lib/databricks/workspace_client.ts";
import type { Reporter } from "../../lib/system/output.ts";
import { startFakeDatabricks } from "../_helpers/fake_databricks.ts";

function capture(): Reporter & { lines: string[] } {
  const lines: string[] = [];
  return { lines, log: (level, message) => lines.push(`${level} ${message}`) };
}

Deno.test("upload: an unchanged project is neither archived nor uploaded again; a missing DBFS file is re-sent from the cache", async () => {
  const root = await Deno.makeTempDir({ prefix: "mlproject-upload-cache-" });
  try {
    await using fake = await startFakeDatabricks();
    const env = { HOME: root, DATABRICKS_HOST: fake.url, DATABRICKS_TOKEN: fake.token };
    const workspace = openWorkspace("databricks", { env });
    try {
      const dbfs = new DbfsClient(workspace);
      const dir = `${root}/proj`;
      await Deno.mkdir(dir);
      await Deno.writeTextFile(`${dir}/MLproject`, "name: p\n");
      await Deno.writeTextFile(`${dir}/train.py`, "print(1)\n");
      const cacheDir = `${root}/cache`;
      const upload = (reporter: Reporter) =>
        uploadProject(dir, { experimentId: "3", dbfs, reporter, cacheDir });

      const first = await upload(capture());
      assert.equal(first.uploaded, true);
      const sent = fake.dbfsFile(first.dbfsPath)!;
      assert.equal(createHash("sha256").update(sent).digest("hex"), first.sha256);
      const out = `${root}/fresh.tgz`;
      assert.equal((await projectTarball(dir, { outputPath: out })).sha256, first.sha256);

      const again = capture();
      const second = await upload(again);
      assert.deepEqual(second, { ...first, uploaded: false });
      assert(
        again.lines.includes(
          `INFO === Project unchanged since its last tarball (${first.sha256}) ===`,
        ),
      );
      assert(again.lines.includes("INFO === Project already exists in DBFS ==="));

      await workspace.post("/api/2.0/dbfs/delete", { path: first.dbfsPath });
      assert.equal(fake.dbfsFile(first.dbfsPath), undefined);
      const third = await upload(capture());
      assert.deepEqual(third, first);
      assert.deepEqual(fake.dbfsFile(first.dbfsPath), sent);

      await Deno.writeTextFile(`${dir}/train.py`, "print(2)\n");
      const changed = capture();
      const fourth = await upload(changed);
      assert.notEqual(fourth.sha256, first.sha256);
      assert.equal(fourth.uploaded, true);
      assert(!changed.lines.some((l) => l.includes("unchanged")));
      assert.equal((await projectTarball(dir, { outputPath: out })).sha256, fourth.sha256);
    } finally {
      workspace.close();
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
