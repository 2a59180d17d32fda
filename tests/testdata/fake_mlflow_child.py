"""Acts like a user's training script with MLflow in the child process, without MLflow.

It opens the tracking store named by MLFLOW_TRACKING_URI (sqlite://// or file:///) and, for
the run named by MLFLOW_RUN_ID, logs a param and a few metrics the way MLflow's SQL/file stores
write them. Arguments: [--end STATUS] [--exit CODE] [--writes N].
"""

import json
import os
import sqlite3
import sys
import time

args = sys.argv[1:]
opts = dict(zip(args[::2], args[1::2]))
uri = os.environ["MLFLOW_TRACKING_URI"]
run_id = os.environ["MLFLOW_RUN_ID"]
writes = int(opts.get("--writes", "3"))
now = int(time.time() * 1000)

if uri.startswith("sqlite:///"):
    db = sqlite3.connect(uri[len("sqlite:///"):], timeout=30)
    for i in range(writes):
        db.execute(
            "INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) VALUES (?, ?, ?, ?, ?, 0)",
            ("child_metric", float(i), now + i, run_id, i),
        )
        db.commit()
    db.execute("INSERT INTO params (key, value, run_uuid) VALUES ('child_param', 'yes', ?)", (run_id,))
    if "--end" in opts:
        db.execute(
            "UPDATE runs SET status = ?, end_time = ? WHERE run_uuid = ?", (opts["--end"], now, run_id)
        )
    db.commit()
elif uri.startswith("file://"):
    root = uri[len("file://"):]
    run_dir = next(
        os.path.join(root, e, run_id)
        for e in os.listdir(root)
        if os.path.isdir(os.path.join(root, e, run_id))
    )
    with open(os.path.join(run_dir, "params", "child_param"), "w") as f:
        f.write("yes")
    with open(os.path.join(run_dir, "metrics", "child_metric"), "a") as f:
        for i in range(writes):
            f.write(f"{now + i} {float(i)} {i}\n")
    if "--end" in opts:
        codes = {"FINISHED": 3, "FAILED": 4, "KILLED": 5}
        meta = os.path.join(run_dir, "meta.yaml")
        text = open(meta).read()
        lines = [
            f"status: {codes[opts['--end']]}" if l.startswith("status:") else
            f"end_time: {now}" if l.startswith("end_time:") else l
            for l in text.splitlines()
        ]
        open(meta, "w").write("\n".join(lines) + "\n")

env = {k: v for k, v in sorted(os.environ.items()) if k.startswith("MLFLOW_")}
print(json.dumps({"argv": sys.argv, "cwd": os.getcwd(), "env": env}))
sys.exit(int(opts.get("--exit", "0")))
