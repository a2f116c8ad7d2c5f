"""ConfigMaps and Secrets through the official Python client (kubernetes on
PyPI): CoreV1Api create/read/list/patch/replace/delete, stringData, a 422
with the upstream cause, and a watch. Exits non-zero on any mismatch."""
import base64
import sys

from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

config.load_kube_config(config_file=sys.argv[1])
core = client.CoreV1Api()
ns = "default"

cm = core.create_namespaced_config_map(
    ns,
    client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="pycm"),
        data={"greeting": "hello"},
        binary_data={"raw": base64.b64encode(b"\x00\x01").decode()},
    ),
)
assert cm.metadata.uid and cm.data == {"greeting": "hello"}, cm
assert base64.b64decode(cm.binary_data["raw"]) == b"\x00\x01", cm.binary_data
assert [c.metadata.name for c in core.list_namespaced_config_map(ns).items] == ["pycm"]
cm = core.patch_namespaced_config_map("pycm", ns, {"data": {"extra": "1"}})
assert cm.data == {"greeting": "hello", "extra": "1"}, cm.data
cm.data["greeting"] = "hi"
cm = core.replace_namespaced_config_map("pycm", ns, cm)
assert core.read_namespaced_config_map("pycm", ns).data["greeting"] == "hi"

try:
    core.create_namespaced_config_map(
        ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="bad"), data={"a b": "1"})
    )
    raise SystemExit("a bad key was accepted")
except ApiException as e:
    assert e.status == 422, e
    assert 'data[a b]: Invalid value: \\"a b\\": a valid config key' in e.body, e.body

secret = core.create_namespaced_secret(
    ns,
    client.V1Secret(
        metadata=client.V1ObjectMeta(name="pysecret"),
        string_data={"password": "hunter2"},
    ),
)
assert secret.type == "Opaque", secret.type
assert secret.string_data is None, secret.string_data
assert base64.b64decode(secret.data["password"]) == b"hunter2", secret.data

w = watch.Watch()
seen = []
for ev in w.stream(core.list_namespaced_secret, ns, timeout_seconds=2):
    seen.append((ev["type"], ev["object"].metadata.name))
    w.stop()
assert seen == [("ADDED", "pysecret")], seen

core.delete_namespaced_secret("pysecret", ns)
core.delete_namespaced_config_map("pycm", ns)
assert core.list_namespaced_secret(ns).items == []
print("ok")
