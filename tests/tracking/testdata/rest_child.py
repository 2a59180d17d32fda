"""Acts like a training script with MLflow, talking to the REST tracking server itself (urllib).

MLFLOW_TRACKING_URI is http(s)://… or `databricks` (then DATABRICKS_HOST and DATABRICKS_TOKEN).
It logs param `child_param`, optionally ends the run itself (--end STATUS), writes what it saw
(argv, MLFLOW_*/DATABRICKS_* env, its own and its parent's command line) to $OUT_FILE, and exits
with --exit CODE. With --offline it makes no request.
"""

import json
import os
import sys
import urllib.request

args = sys.argv[1:]
opts = dict(zip(args[::2], args[1::2]))
uri = os.environ["MLFLOW_TRACKING_URI"]
run_id = os.environ["MLFLOW_RUN_ID"]


def call(endpoint, body):
    if uri == "databricks":
        base, auth = os.environ["DATABRICKS_HOST"], "Bearer " + os.environ["DATABRICKS_TOKEN"]
    else:
        base = uri
        token = os.environ.get("MLFLOW_TRACKING_TOKEN")
        auth = "Bearer " + token if token else None
    req = urllib.request.Request(
        base.rstrip("/") + "/api/2.0/mlflow/" + endpoint,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **({"Authorization": auth} if auth else {})},
    )
    urllib.request.urlopen(req).read()


if opts.get("--offline") != "1":
    call("runs/log-parameter", {"run_id": run_id, "key": "child_param", "value": "yes"})
    if "--end" in opts:
        call("runs/update", {"run_id": run_id, "status": opts["--end"], "end_time": 1})


def cmdline(pid):
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return f.read().decode(errors="replace").split("\0")


seen = {
    "argv": sys.argv,
    "env": {k: v for k, v in sorted(os.environ.items()) if k.startswith(("MLFLOW_", "DATABRICKS_"))},
    "cmdlines": [cmdline(os.getpid()), cmdline(os.getppid())],
}
with open(os.environ["OUT_FILE"], "w") as f:
    json.dump(seen, f)
print("child done")
sys.exit(int(opts.get("--exit", "0")))
