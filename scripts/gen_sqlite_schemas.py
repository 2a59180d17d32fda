#!/usr/bin/env python3
"""Generates lib/tracking/_sqlite_schemas.ts and _sqlite_releases.ts: the SQLite schema every MLflow release creates.

For each MLflow release (2.0.0 up to the newest on PyPI; 1.x with --with-1x), this installs the
release into a throwaway venv with `uv` (dependencies as they were shortly after the release, via
`--exclude-newer`), lets that MLflow create a new tracking database through its own client
(`MlflowClient(tracking_uri="sqlite:///…").get_experiment("0")`, which runs its SqlAlchemyStore
start-up: create tables, run every alembic migration, insert the default experiment), and dumps
`sqlite_master` (type, name, tbl_name, sql in rowid order), `alembic_version` and the default
experiment row. Results are kept per release under --work (so a re-run only does what is missing),
then written as one data module deduplicated by alembic revision.

Usage:
  python3 scripts/gen_sqlite_schemas.py [--work DIR] [--jobs 2] [--with-1x] [--only 2.17.2,...]
                                        [--fast] [--emit-only] [--out lib/tracking/_sqlite_schemas.ts]

With --fast, a release whose head revision (read from its migration files, installed without
dependencies) was already dumped from another release's real database is recorded with that
head without starting Python; a new head is dumped from a real database as above.

Needs `uv` on PATH and PyPI. Python 3.11 is used for the venvs (releases that cannot install or
run on it are recorded as skipped, with the reason).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime as dt
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = "3.11"
LOCK = threading.Lock()

# Runs inside the release's venv. Prints one JSON object on its last stdout line.
DUMP = r"""
import json, os, re, sqlite3, sys, tempfile, glob
work = os.path.realpath(tempfile.mkdtemp(prefix="mlflow-schema-"))
os.chdir(work)
db = os.path.join(work, "mlflow.db")
uri = "sqlite:///" + db
import mlflow
from mlflow.tracking import MlflowClient
MlflowClient(tracking_uri=uri).get_experiment("0")
con = sqlite3.connect(db)
master = [list(r) for r in con.execute(
    "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY rowid")]
alembic = [r[0] for r in con.execute("SELECT version_num FROM alembic_version")]
journal = con.execute("PRAGMA journal_mode").fetchone()[0]
user_version = con.execute("PRAGMA user_version").fetchone()[0]
con.row_factory = sqlite3.Row
row = con.execute("SELECT * FROM experiments WHERE experiment_id = 0").fetchone()
exp = {k: row[k] for k in row.keys()}
for k, v in list(exp.items()):
    if isinstance(v, str):
        exp[k] = v.replace(work, "{cwd}")
    elif isinstance(v, int) and k.endswith("_time"):
        exp[k] = "{now}"
con.close()
# The head as read from the migration files (cross-check of the TypeScript reader).
versions_dir = os.path.join(os.path.dirname(mlflow.__file__), "store", "db_migrations", "versions")
revs, downs = set(), set()
for f in glob.glob(os.path.join(versions_dir, "*.py")):
    text = open(f, encoding="utf-8").read()
    m = re.search(r"^revision\s*(?::[^=]*)?=\s*['\"]([^'\"]+)['\"]", text, re.M)
    if m:
        revs.add(m.group(1))
    d = re.search(r"^down_revision\s*(?::[^=]*)?=\s*(.+)$", text, re.M)
    if d:
        downs.update(re.findall(r"['\"]([^'\"]+)['\"]", d.group(1)))
import sqlalchemy, alembic as alembic_pkg
print(json.dumps({
    "mlflow": mlflow.__version__,
    "sqlalchemy": sqlalchemy.__version__,
    "alembic": alembic_pkg.__version__,
    "sqlite": sqlite3.sqlite_version,
    "master": master,
    "alembic_version": alembic,
    "journal_mode": journal,
    "user_version": user_version,
    "default_experiment": exp,
    "heads_from_files": sorted(revs - downs),
}))
"""


def log(msg: str) -> None:
    with LOCK:
        print(msg, file=sys.stderr, flush=True)


def pypi(name: str) -> dict:
    with urllib.request.urlopen(f"https://pypi.org/pypi/{name}/json", timeout=120) as r:
        return json.load(r)


def vkey(v: str) -> tuple:
    return tuple(int(x) for x in re.findall(r"\d+", v))


def final_releases(data: dict) -> dict[str, str]:
    """Version → earliest upload time, for final releases (no rc/dev/post; yanked ones included)."""
    out = {}
    for v, files in data["releases"].items():
        if not files or not re.fullmatch(r"\d+\.\d+(\.\d+)?", v):
            continue
        out[v] = min(f["upload_time_iso_8601"] for f in files)
    return out


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def attempt(venv: Path, packages: list[str], exclude_newer: str | None,
            no_deps: list[str]) -> str | None:
    """Installs into a fresh venv; returns an error text or None."""
    shutil.rmtree(venv, ignore_errors=True)
    r = run(["uv", "venv", "-q", "--python", PYTHON, str(venv)])
    if r.returncode != 0:
        return "uv venv: " + r.stderr.strip()[-500:]
    py = str(venv / "bin" / "python")
    base = ["uv", "pip", "install", "-q", "--python", py]
    if exclude_newer:
        base += ["--exclude-newer", exclude_newer]
    r = run(base + packages)
    if r.returncode != 0:
        return "uv pip install: " + r.stderr.strip()[-800:]
    if no_deps:
        r = run(["uv", "pip", "install", "-q", "--python", py, "--no-deps"] + no_deps)
        if r.returncode != 0:
            return "uv pip install --no-deps: " + r.stderr.strip()[-800:]
    return None


def dump(venv: Path) -> tuple[dict | None, str | None]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "PYTHONWARNINGS": "ignore",
        "GIT_PYTHON_REFRESH": "quiet",
    }
    r = run([str(venv / "bin" / "python"), "-c", DUMP], env=env, timeout=900)
    if r.returncode != 0:
        return None, "python: " + r.stderr.strip()[-800:]
    try:
        return json.loads(r.stdout.strip().splitlines()[-1]), None
    except (ValueError, IndexError):
        return None, "no JSON output: " + r.stdout[-300:]


def heads_in(site_packages: Path) -> list[str]:
    """Heads of the alembic chain in an installed mlflow/ (revisions nobody names as down)."""
    revs, downs = set(), set()
    for f in (site_packages / "mlflow" / "store" / "db_migrations" / "versions").glob("*.py"):
        text = f.read_text(encoding="utf-8")
        m = re.search(r"^revision\s*(?::[^=]*)?=\s*['\"]([^'\"]+)['\"]", text, re.M)
        if m:
            revs.add(m.group(1))
        d = re.search(r"^down_revision\s*(?::[^=]*)?=\s*(.+)$", text, re.M)
        if d:
            downs.update(re.findall(r"['\"]([^'\"]+)['\"]", d.group(1)))
    return sorted(revs - downs)


def head_only(version: str, uploaded: str, skinny: dict[str, str], work: Path) -> str | None:
    """Installs the release without dependencies and reads its head from the migration files."""
    venv = work / "venvs" / f"{version}-files"
    shutil.rmtree(venv, ignore_errors=True)
    package = f"mlflow-skinny=={version}" if version in skinny else f"mlflow=={version}"
    try:
        if run(["uv", "venv", "-q", "--python", PYTHON, str(venv)]).returncode != 0:
            return None
        r = run(["uv", "pip", "install", "-q", "--python", str(venv / "bin" / "python"),
                 "--no-deps", package])
        if r.returncode != 0:
            return None
        sites = list((venv / "lib").glob("python*/site-packages"))
        heads = heads_in(sites[0]) if sites else []
        return heads[0] if len(heads) == 1 else None
    finally:
        shutil.rmtree(venv, ignore_errors=True)


def one(version: str, uploaded: str, skinny: dict[str, str], work: Path,
        dumped: dict[str, str] | None = None) -> dict:
    out_file = work / "results" / f"{version}.json"
    if out_file.exists():
        return json.loads(out_file.read_text())
    if dumped is not None:
        # Fast path: a release whose head another release's real database already shows has the
        # same schema (the DDL is a function of the migration chain up to that revision).
        head = head_only(version, uploaded, skinny, work)
        if head is not None and head in dumped:
            result = {"version": version, "released": uploaded, "alembic_version": [head],
                      "installed": "migration files only (mlflow-skinny --no-deps)",
                      "schema_from": dumped[head]}
            out_file.write_text(json.dumps(result, indent=1))
            log(f"{version}: ['{head}'] [files only; schema as dumped from {dumped[head]}]")
            return result
    released = dt.datetime.fromisoformat(uploaded.replace("Z", "+00:00"))
    newer = (released + dt.timedelta(days=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    venv = work / "venvs" / version
    # Cheapest first: the skinny package with the SQL store's deps, as of the release.
    plans: list[tuple[str, list[str], str | None, list[str]]] = []
    extra = ["sqlalchemy", "alembic", "setuptools", "cryptography"]
    if version in skinny:
        plans.append(("mlflow-skinny", [f"mlflow-skinny=={version}"] + extra, newer, []))
    plans.append(("mlflow", [f"mlflow=={version}", "setuptools"], newer, []))
    if version in skinny:
        plans.append(("mlflow-skinny, current deps", [f"mlflow-skinny=={version}"] + extra, None, []))
    if vkey(version) < (2, 0, 0):
        # 1.x: the pins of its time do not build on Python 3.11 (greenlet 1.x); take current
        # wheels within the bounds 1.x works with (SQLAlchemy 1.4, pkg_resources, protobuf 3).
        old_deps = ["sqlalchemy<2", "alembic<1.12", "setuptools<70", "protobuf<4", "numpy<1.24",
                    "pandas<2", "click<8.2", "cryptography", "packaging<22", "sqlparse<0.5"]
        main = f"mlflow-skinny=={version}" if version in skinny else f"mlflow=={version}"
        plans.append((f"{main.split('==')[0]}, 1.x bounds", [main] + old_deps, None, []))
    else:
        # The mlflow wheel holds the whole package; reuse the deps of the newest skinny before it.
        older = [v for v in skinny if vkey(v) < vkey(version)]
        if older:
            base = max(older, key=vkey)
            plans.append((f"mlflow --no-deps over mlflow-skinny {base}",
                          [f"mlflow-skinny=={base}"] + extra, newer, [f"mlflow=={version}"]))
    errors = []
    result: dict = {"version": version, "released": uploaded}
    for name, packages, exclude, no_deps in plans:
        err = attempt(venv, packages, exclude, no_deps)
        if err is None:
            data, err = dump(venv)
            if data is not None:
                result.update(data)
                result["installed"] = name + (f" (--exclude-newer {exclude})" if exclude else "")
                break
        errors.append(f"[{name}] {err}")
    else:
        result["error"] = errors[-1]
        result["errors"] = errors
    shutil.rmtree(venv, ignore_errors=True)
    out_file.write_text(json.dumps(result, indent=1))
    status = result.get("alembic_version", result.get("error", "")[:200])
    log(f"{version}: {status} [{result.get('installed', 'skipped')}]")
    return result


def emit(results: list[dict], out: Path, generated: str) -> None:
    ok = [r for r in results if "alembic_version" in r]
    skipped = [r for r in results if "alembic_version" not in r]
    statements: list[str] = []
    index: dict[str, int] = {}
    revisions: dict[str, dict] = {}
    releases: list[tuple[str, str]] = []
    new_databases: dict[str, dict] = {}
    for r in sorted(ok, key=lambda r: vkey(r["version"])):
        revs = r["alembic_version"]
        if len(revs) != 1:
            raise SystemExit(f"{r['version']}: alembic_version has {revs}")
        rev = revs[0]
        releases.append((r["version"], rev))
        if "master" not in r:
            continue  # head read from the files; its schema comes from the release that dumped it
        ddl = []
        names = sorted(f"{typ} {name}" for typ, name, _tbl, _sql in r["master"])
        for typ, name, _tbl, sql in r["master"]:
            if sql is None or name.startswith("sqlite_"):
                continue
            if sql not in index:
                index[sql] = len(statements)
                statements.append(sql)
            ddl.append(index[sql])
        exp = r["default_experiment"]
        shape = {"columns": list(exp.keys())}
        if rev in revisions:
            # The order of indexes and of table constraints varies between runs (alembic
            # iterates sets); only a different set of objects is worth a note.
            if revisions[rev]["names"] != names:
                log(f"note: {r['version']} creates revision {rev} with other DDL text than "
                    f"{revisions[rev]['firstRelease']}; keeping the first")
            continue
        revisions[rev] = {"ddl": ddl, "defaultExperiment": shape, "firstRelease": r["version"],
                          "names": names}
        # What creating a database of this revision needs without its DDL: the DDL's digest
        # names the template database copied for it.
        joined = ";\n".join(statements[i] for i in ddl)
        new_databases[rev] = {
            "ddlDigest": hashlib.sha256(joined.encode()).hexdigest()[:16],
            "artifactLocation": exp.get("artifact_location"),
        }
    # Two modules: the releases (small, read on every run whose environment has MLflow) and
    # the DDL (read only to create a database).
    rel = [
        "// Generated by scripts/gen_sqlite_schemas.py: do not edit by hand.",
        "/**",
        " * Which alembic revision the new tracking database of each MLflow release has, as dumped",
        " * from databases real MLflow releases created. Data only; see `sqlite_releases.ts` for the",
        " * functions that use it (the DDL is in `_sqlite_schemas.ts`).",
        " *",
        " * @module",
        " */",
        "",
        "/** When the data was generated (UTC). */",
        f"export const GENERATED = {json.dumps(generated)};",
        "",
        "/** MLflow release → alembic head revision of the database it creates, oldest first. */",
        "export const RELEASES: readonly (readonly [string, string])[] = [",
    ]
    rel += [f"  [{json.dumps(v)}, {json.dumps(rev)}]," for v, rev in releases]
    rel += [
        "];",
        "",
        "/** Releases not covered, with the reason (could not be installed or run on Python 3.11). */",
        "export const SKIPPED: readonly (readonly [string, string])[] = [",
    ]
    for r in sorted(skipped, key=lambda r: vkey(r["version"])):
        error = r.get("error", "")
        last = [line for line in error.splitlines() if line.strip()][-1:] or [""]
        reason = (error.split("]")[0] + "] " if error.startswith("[") else "") + last[0].strip()
        reason = re.sub(r"\s+", " ", reason)[:200]
        rel.append(f"  [{json.dumps(r['version'])}, {json.dumps(reason)}],")
    rel += [
        "];",
        "",
        "/** What a new database of one revision needs besides its DDL. */",
        "export interface NewDatabaseData {",
        "  /** SHA-256 of the DDL statements joined by `;\\n` (first 16 hex digits). */",
        "  readonly ddlDigest: string;",
        "  /** The default experiment's artifact location ({cwd} = the directory MLflow ran in). */",
        "  readonly artifactLocation: string | null;",
        "}",
        "",
        "/** Alembic revision → what a new database of it needs besides its DDL. */",
        "export const NEW_DATABASES: Readonly<Record<string, NewDatabaseData>> = {",
    ]
    for rev, data in new_databases.items():
        rel.append(f"  {json.dumps(rev)}: {json.dumps(data, separators=(', ', ': '))},")
    rel += ["};", ""]
    lines = [
        "// Generated by scripts/gen_sqlite_schemas.py: do not edit by hand.",
        "/**",
        " * The SQLite schema each MLflow release creates for a new tracking database, as dumped from",
        " * databases real MLflow releases created (`sqlite_master` in rowid order, without SQLite's",
        " * own `sqlite_*` objects). Data only; see `sqlite_schema.ts` for the functions that use it",
        " * (which release has which revision: `_sqlite_releases.ts`).",
        " *",
        " * @module",
        " */",
        "",
        "/** Every DDL statement that occurs in any revision, each once. */",
        "export const STATEMENTS: readonly string[] = [",
    ]
    lines += [f"  {json.dumps(s)}," for s in statements]
    lines += [
        "];",
        "",
        "/** A revision's schema. */",
        "export interface RevisionData {",
        "  /** Indexes into {@linkcode STATEMENTS}, in creation (rowid) order. */",
        "  readonly ddl: readonly number[];",
        "  /** The default experiment MLflow inserts ({cwd} = the directory MLflow ran in). */",
        "  readonly defaultExperiment: {",
        "    readonly columns: readonly string[];",
        "  };",
        "  /** First release whose new database has this revision. */",
        "  readonly firstRelease: string;",
        "}",
        "",
        "/** Alembic revision → its schema. */",
        "export const REVISIONS: Readonly<Record<string, RevisionData>> = {",
    ]
    for rev, data in revisions.items():
        data = {k: v for k, v in data.items() if k != "names"}
        lines.append(f"  {json.dumps(rev)}: {json.dumps(data, separators=(', ', ': '))},")
    lines += ["};", ""]
    out.write_text("\n".join(lines))
    releases_out = out.with_name("_sqlite_releases.ts")
    releases_out.write_text("\n".join(rel))
    if shutil.which("deno"):
        run(["deno", "fmt", "--quiet", str(out), str(releases_out)])
    log(f"wrote {out}: {len(releases)} releases, {len(revisions)} revisions, "
        f"{len(statements)} distinct statements, {len(skipped)} skipped")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", default="/tmp/mlflow-schemas")
    ap.add_argument("--out", default=str(ROOT / "lib" / "tracking" / "_sqlite_schemas.ts"))
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--with-1x", action="store_true")
    ap.add_argument("--only", default="")
    ap.add_argument("--emit-only", action="store_true")
    ap.add_argument("--generated", default="",
                    help="the GENERATED timestamp to write (default: now)")
    ap.add_argument("--fast", action="store_true",
                    help="read each release's head from its migration files; create a database "
                         "only with the first release of each head not dumped yet")
    args = ap.parse_args()
    work = Path(args.work)
    (work / "results").mkdir(parents=True, exist_ok=True)
    (work / "venvs").mkdir(parents=True, exist_ok=True)
    cache = work / "pypi.json"
    if not cache.exists() or not args.emit_only:
        cache.write_text(json.dumps({"mlflow": final_releases(pypi("mlflow")),
                                     "skinny": final_releases(pypi("mlflow-skinny"))}))
    index = json.loads(cache.read_text())
    releases, skinny = index["mlflow"], index["skinny"]
    low = (1, 0, 0) if args.with_1x else (2, 0, 0)
    versions = sorted((v for v in releases if vkey(v) >= low), key=vkey, reverse=True)
    if args.only:
        versions = [v for v in args.only.split(",") if v in releases]
    if not args.emit_only:
        dumped: dict[str, str] | None = None
        if args.fast:
            dumped = {}
            for p in (work / "results").glob("*.json"):
                r = json.loads(p.read_text())
                if "master" in r and len(r["alembic_version"]) == 1:
                    dumped.setdefault(r["alembic_version"][0], r["version"])
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, min(args.jobs, 2))) as ex:
            def job(v: str) -> dict:
                r = one(v, releases[v], skinny, work, dumped)
                if dumped is not None and "master" in r:
                    with LOCK:
                        dumped.setdefault(r["alembic_version"][0], v)
                return r
            list(ex.map(job, versions))
    results = [json.loads(p.read_text()) for p in (work / "results").glob("*.json")]
    results = [r for r in results if vkey(r["version"]) >= low or "alembic_version" in r]
    generated = args.generated or dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    emit(results, Path(args.out), generated)


if __name__ == "__main__":
    main()
