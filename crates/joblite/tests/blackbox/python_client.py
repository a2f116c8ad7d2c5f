"""Drives joblite with the official Python client (kubernetes on PyPI):
BatchV1Api create/read/list/patch/replace/delete, a watch stream, and
CoreV1Api list pods. Exits non-zero with a message on any mismatch."""
import sys

from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

config.load_kube_config(config_file=sys.argv[1])
batch = client.BatchV1Api()
core = client.CoreV1Api()
ns = "default"

job = client.V1Job(
    metadata=client.V1ObjectMeta(name="pyjob"),
    spec=client.V1JobSpec(
        backoff_limit=2,
        template=client.V1PodTemplateSpec(
            spec=client.V1PodSpec(
                restart_policy="Never",
                containers=[client.V1Container(name="c", image="busybox", command=["sh", "-c", "exit 0"])],
            )
        ),
    ),
)
created = batch.create_namespaced_job(ns, job)
assert created.metadata.uid, "uid set"
assert created.spec.selector.match_labels["batch.kubernetes.io/controller-uid"] == created.metadata.uid

read = batch.read_namespaced_job("pyjob", ns)
assert read.metadata.name == "pyjob"
lst = batch.list_namespaced_job(ns)
assert [j.metadata.name for j in lst.items] == ["pyjob"], lst.items

patched = batch.patch_namespaced_job("pyjob", ns, {"metadata": {"labels": {"x": "y"}}})
assert patched.metadata.labels["x"] == "y"
patched = batch.patch_namespaced_job("pyjob", ns, [{"op": "add", "path": "/metadata/labels/z", "value": "w"}])
assert patched.metadata.labels["z"] == "w"

# Replace with optimistic concurrency: the controller writes status too, so
# a stale resourceVersion gets 409 and the client re-reads, as clients do.
for attempt in range(10):
    current = batch.read_namespaced_job("pyjob", ns)
    current.metadata.labels["replaced"] = "yes"
    try:
        replaced = batch.replace_namespaced_job("pyjob", ns, current)
        break
    except ApiException as e:
        assert e.status == 409, e
else:
    raise AssertionError("replace kept conflicting")
assert replaced.metadata.labels["replaced"] == "yes"
# A stale resourceVersion is refused with 409 Conflict.
stale = batch.read_namespaced_job("pyjob", ns)
stale.metadata.resource_version = created.metadata.resource_version
try:
    batch.replace_namespaced_job("pyjob", ns, stale)
    raise AssertionError("expected 409")
except ApiException as e:
    assert e.status == 409 and "the object has been modified" in e.body, e.body

# A watch from the list's revision sees the next change.
rv = batch.list_namespaced_job(ns).metadata.resource_version
batch.patch_namespaced_job("pyjob", ns, {"metadata": {"labels": {"w": "1"}}})
w = watch.Watch()
seen = []
for ev in w.stream(batch.list_namespaced_job, ns, field_selector="metadata.name=pyjob",
                   resource_version=rv, timeout_seconds=5):
    seen.append(ev["type"])
    if ev["object"].metadata.labels.get("w") == "1":
        w.stop()
assert seen and seen[0] == "MODIFIED", seen

status = batch.read_namespaced_job_status("pyjob", ns)
assert status.metadata.uid == created.metadata.uid

pods = core.list_namespaced_pod(ns, label_selector="job-name=pyjob")
assert isinstance(pods.items, list)

try:
    batch.read_namespaced_job("nope", ns)
    raise AssertionError("expected 404")
except ApiException as e:
    assert e.status == 404 and '"reason":"NotFound"' in e.body.replace(" ", ""), e.body

batch.delete_namespaced_job("pyjob", ns, propagation_policy="Foreground")
print("python client ok")
