"""Drives a Kubernetes API server with the official `kubernetes` client, as a Job runner would.

Usage: kube_python_client.py KUBECONFIG CONTEXT NAMESPACE JOB IMAGE
Prints one JSON object: what each call returned.
"""
import json
import sys

from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

cfg, ctx, ns, name, image = sys.argv[1:6]
config.load_kube_config(config_file=cfg, context=ctx)
batch = client.BatchV1Api()
core = client.CoreV1Api()
out = {}

job = client.V1Job(
    api_version="batch/v1",
    kind="Job",
    metadata=client.V1ObjectMeta(name=name, namespace=ns),
    spec=client.V1JobSpec(
        backoff_limit=0,
        template=client.V1PodTemplateSpec(
            spec=client.V1PodSpec(
                restart_policy="Never",
                containers=[
                    client.V1Container(
                        name="main",
                        image=image,
                        image_pull_policy="Never",
                        command=["sh", "-c", 'echo "start $WHO"; sleep 2; echo end'],
                        env=[client.V1EnvVar(name="WHO", value="python")],
                    )
                ],
            )
        ),
    ),
)
created = batch.create_namespaced_job(ns, job)
out["created"] = {"uid": created.metadata.uid, "labels": created.metadata.labels}

try:
    batch.create_namespaced_job(ns, job)
except ApiException as e:
    out["again"] = {"status": e.status, "body": json.loads(e.body)}

try:
    batch.read_namespaced_job_status("missing", ns)
except ApiException as e:
    out["missing"] = {"status": e.status, "body": json.loads(e.body)}

w = watch.Watch()
pod = None
for ev in w.stream(core.list_namespaced_pod, ns, label_selector=f"job-name={name}", timeout_seconds=60):
    if ev["object"].status.phase in ("Running", "Succeeded", "Failed"):
        pod = ev["object"].metadata.name
        out["phase_at_log_request"] = ev["object"].status.phase
        w.stop()
        break
resp = core.read_namespaced_pod_log(pod, ns, container="main", follow=True, _preload_content=False)
out["log"] = "".join(chunk.decode() for chunk in resp.stream())

events = []
for ev in w.stream(batch.list_namespaced_job, ns, field_selector=f"metadata.name={name}", timeout_seconds=60):
    true = [c.type for c in (ev["object"].status.conditions or []) if c.status == "True"]
    events.append([ev["type"], true])
    if "Complete" in true or "Failed" in true:
        w.stop()
        break
out["job_events"] = events

status = batch.read_namespaced_job_status(name, ns).status
out["status"] = {
    "succeeded": status.succeeded,
    "start_time": status.start_time.isoformat() if status.start_time else None,
    "completion_time": status.completion_time.isoformat() if status.completion_time else None,
}
pods = core.list_namespaced_pod(ns, label_selector=f"batch.kubernetes.io/job-name={name}")
out["pods"] = [
    {"name": p.metadata.name, "phase": p.status.phase,
     "exit": p.status.container_statuses[0].state.terminated.exit_code}
    for p in pods.items
]
deleted = batch.delete_namespaced_job(name, ns, propagation_policy="Background")
# Newer clients return the decoded body (a dict), older ones a V1Status.
out["delete"] = deleted if isinstance(deleted, dict) else deleted.to_dict()
try:
    batch.read_namespaced_job(name, ns)
except ApiException as e:
    out["after_delete"] = e.status
print(json.dumps(out))
