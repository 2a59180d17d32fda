/**
 * The conda manager through the CLI. conda/mamba cannot be installed on this machine, so
 * `conda`, `mamba`, `activate` and `etc/profile.d/conda.sh` are scripts the test writes: they log
 * their arguments, keep "environments" as directories, print `env list --json` as conda does, fail
 * `env create` for a conda.yaml that mentions `fail-me` (after creating the env, as a failed pip
 * step does), and "activate" by exporting CONDA_DEFAULT_ENV. What is REAL: the executable lookup
 * (MLFLOW_CONDA_HOME, CONDA_EXE, MLFLOW_CONDA_CREATE_ENV_CMD), the env name (SHA-1 of the yaml
 * text, checked against a value computed independently), the command lines, MLflow's error
 * texts, the removal of a failed env, the activation command run by bash, and the tags.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { condaActivation, condaBinExecutable } from "../../lib/envs/conda.ts";
import { runCli, sqliteRows, tempDir, writeFiles } from "../_helpers/cli.ts";
import { envTestEnv, lastJson, writeExecutable } from "./_env_helpers.ts";

function fakeConda(tool: string): string {
  return `#!/bin/bash
echo "${tool} $*" >> "$FAKE_CONDA_LOG"
envs="$FAKE_CONDA_ENVS"
case "$1 $2" in
  "--help "*) echo "usage: ${tool}"; exit 0 ;;
  "env list")
    printf '{"envs": ["/opt/conda"'
    for d in "$envs"/*; do [ -d "$d" ] && printf ', "%s"' "$d"; done
    printf ']}\\n'; exit 0 ;;
  "env create")
    name="$4"; file="$6"; mkdir -p "$envs/$name"
    echo "Collecting package metadata (repodata.json): done"
    if grep -q fail-me "$file"; then echo "Pip subprocess error: fail-me" >&2; exit 1; fi
    exit 0 ;;
  "remove --yes") rm -rf "$envs/$4"; exit 0 ;;
esac
echo "fake ${tool}: unexpected $*" >&2; exit 2
`;
}

async function condaInstall(dir: string): Promise<void> {
  await writeExecutable(`${dir}/bin/conda`, fakeConda("conda"));
  await writeExecutable(`${dir}/bin/mamba`, fakeConda("mamba"));
  await writeFiles(dir, {
    "etc/profile.d/conda.sh":
      'conda() { if [ "$1" = activate ]; then export CONDA_DEFAULT_ENV="$2"; echo "activated $2"; fi; }\n',
  });
  await writeExecutable(
    `${dir}/bin/activate`,
    'export CONDA_DEFAULT_ENV="$1"\necho "sourced activate $1"\n',
  );
}

const YAML = "name: demo\ndependencies:\n  - python=3.11\n  - pip:\n    - six\n";

async function setup(tmp: string, yaml = YAML) {
  const conda = `${tmp}/miniconda`;
  await condaInstall(conda);
  const project = `${tmp}/proj`;
  await writeFiles(project, {
    MLproject: 'entry_points:\n  main:\n    command: echo "IN $CONDA_DEFAULT_ENV"\n',
    "conda.yaml": yaml,
  });
  const name = "mlflow-" + createHash("sha1").update(yaml).digest("hex");
  const log = `${tmp}/conda.log`;
  const env = (extra: Record<string, string>) =>
    envTestEnv(`${tmp}/envs`, {
      FAKE_CONDA_LOG: log,
      FAKE_CONDA_ENVS: `${tmp}/conda-envs`,
      ...extra,
    });
  return { conda, project, name, log, env };
}

Deno.test("conda: CONDA_EXE finds conda; env mlflow-<sha1> is created, activated via conda.sh, then reused", async () => {
  await using tmp = await tempDir();
  const { conda, project, name, log, env } = await setup(tmp.path);
  const e = env({ CONDA_EXE: `${conda}/bin/conda` });
  const out = await runCli(["run", project, "--json"], { cwd: tmp.path, env: e });
  assert.equal(out.code, 0, out.stderr);
  const json = lastJson(out.stdout);
  assert.deepEqual([json.env_manager, json.env_key, json.env_cache_hit], ["conda", name, false]);
  assert.match(out.stderr, new RegExp(`=== Creating conda environment ${name} ===`));
  assert.match(out.stderr, /Collecting package metadata/, "creation output on stderr");
  assert.match(out.stderr, new RegExp(`IN ${name}\\n`));
  assert.match(
    out.stderr,
    new RegExp(
      `Running command 'source ${conda}/bin/\\.\\./etc/profile\\.d/conda\\.sh && conda activate ${name} 1>&2 && echo`,
    ),
  );
  assert.equal(
    await Deno.readTextFile(log),
    `conda env list --json\nconda env create -n ${name} --file ${project}/conda.yaml\n` +
      "conda env list --json\n",
  );
  const tags = await sqliteRows(
    `${tmp.path}/mlflow.db`,
    "SELECT value FROM tags WHERE run_uuid = ? AND key = 'mlflow.project.env'",
    String(json.run_id),
  );
  assert.equal(tags[0]?.value, "conda");

  const again = await runCli(["run", project, "--json"], { cwd: tmp.path, env: e });
  assert.equal(again.code, 0, again.stderr);
  assert.equal(lastJson(again.stdout).env_cache_hit, true);
  assert.match(again.stderr, new RegExp(`Conda environment ${name} already exists\\.`));
});

Deno.test("conda: MLFLOW_CONDA_HOME with MLFLOW_CONDA_CREATE_ENV_CMD=mamba creates with mamba; without CONDA_EXE the activate script is sourced", async () => {
  await using tmp = await tempDir();
  const { conda, project, name, log, env } = await setup(tmp.path);
  const out = await runCli(["run", project, "--env-manager", "conda"], {
    cwd: tmp.path,
    env: env({ MLFLOW_CONDA_HOME: conda, MLFLOW_CONDA_CREATE_ENV_CMD: "mamba" }),
  });
  assert.equal(out.code, 0, out.stderr);
  assert.equal(
    await Deno.readTextFile(log),
    `conda env list --json\nmamba env create -n ${name} --file ${project}/conda.yaml\n` +
      "conda env list --json\n",
  );
  const bare = await runCli(["run", project], {
    cwd: tmp.path,
    env: env({ PATH: `${conda}/bin:${Deno.env.get("PATH")}` }),
  });
  assert.equal(bare.code, 0, bare.stderr);
  assert.match(bare.stderr, new RegExp(`Running command 'source activate ${name} 1>&2 && echo`));
  assert.equal(bare.stdout, `IN ${name}\n`, "the entry point's stdout");
});

Deno.test("conda: a failed creation is removed and reported; the next run tries again", async () => {
  await using tmp = await tempDir();
  const { conda, project, name, log, env } = await setup(
    tmp.path,
    "dependencies:\n  - python=3.11\n  - pip:\n    - fail-me\n",
  );
  const e = env({ CONDA_EXE: `${conda}/bin/conda` });
  for (let i = 0; i < 2; i++) {
    const out = await runCli(["run", project], { cwd: tmp.path, env: e });
    assert.equal(out.code, 1);
    assert.match(out.stderr, /Pip subprocess error: fail-me/);
    assert.match(out.stderr, new RegExp(`WARNING mlproject: .*Removing ${name}\\.`));
    assert.match(
      out.stderr,
      /=== Creating the environment failed: '.*conda env create .*' exited with code 1/,
    );
    assert.deepEqual([...Deno.readDirSync(`${tmp.path}/conda-envs`)], []);
  }
  assert.equal(
    (await Deno.readTextFile(log)).split("\n").filter((l) => l.includes("--all")).length,
    2,
  );
  assert.deepEqual(
    await sqliteRows(`${tmp.path}/mlflow.db`, "SELECT * FROM runs").catch(() => []),
    [],
  );
});

Deno.test("conda: MLflow's errors for a missing conda and a missing creation command, verbatim", async () => {
  await using tmp = await tempDir();
  const { conda, project, env } = await setup(tmp.path);
  const missing = await runCli(["run", project], {
    cwd: tmp.path,
    env: env({ MLFLOW_CONDA_HOME: `${tmp.path}/nowhere` }),
  });
  assert.equal(missing.code, 1);
  assert.match(
    missing.stderr,
    new RegExp(
      `=== Could not find Conda executable at ${tmp.path}/nowhere/bin/conda\\. Ensure Conda is installed as per the instructions at https://conda\\.io/projects/conda/en/latest/user-guide/install/index\\.html\\. You can also configure MLflow to look for a specific Conda executable by setting the MLFLOW_CONDA_HOME environment variable to the path of the Conda executable ===`,
    ),
  );
  await Deno.remove(`${conda}/bin/mamba`);
  const noMamba = await runCli(["run", project], {
    cwd: tmp.path,
    env: env({ CONDA_EXE: `${conda}/bin/conda`, MLFLOW_CONDA_CREATE_ENV_CMD: "mamba" }),
  });
  assert.equal(noMamba.code, 1);
  const p = `${conda}/bin/mamba`;
  assert.ok(
    noMamba.stderr.includes(
      `=== You have set the env variable MLFLOW_CONDA_CREATE_ENV_CMD, but ${p} does not exist or it is not working properly. Note that ${p} and the conda executable need to be in the same conda environment. You can change the search path bymodifying the env variable MLFLOW_CONDA_HOME ===`,
    ),
    noMamba.stderr,
  );
});

Deno.test("condaBinExecutable() and condaActivation() follow MLflow's rules", () => {
  assert.equal(condaBinExecutable("conda", { CONDA_EXE: "/abc/conda" }), "/abc/conda");
  assert.equal(condaBinExecutable("activate", { CONDA_EXE: "/abc/conda" }), "/abc/activate");
  assert.equal(
    condaBinExecutable("conda", { MLFLOW_CONDA_HOME: "/some/dir/" }),
    "/some/dir/bin/conda",
  );
  assert.equal(
    condaBinExecutable("mamba", { MLFLOW_CONDA_HOME: "/some/dir/" }),
    "/some/dir/bin/mamba",
  );
  assert.equal(condaBinExecutable("mamba", { CONDA_EXE: "/abc/conda" }), "/abc/mamba");
  assert.equal(condaBinExecutable("conda", {}), "conda");
  assert.equal(
    condaActivation("mlflow-x", { CONDA_EXE: "/abc/conda" }),
    "source /abc/../etc/profile.d/conda.sh && conda activate mlflow-x 1>&2",
  );
  assert.equal(condaActivation("mlflow-x", {}), "source activate mlflow-x 1>&2");
});
