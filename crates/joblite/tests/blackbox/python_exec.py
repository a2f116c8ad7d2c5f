"""The Python client's exec (kubernetes.stream, subprotocol v4.channel.k8s.io)."""
import sys

from kubernetes import client, config
from kubernetes.stream import stream

config.load_kube_config(sys.argv[1])
core = client.CoreV1Api()

# Preloaded: the output as one string.
out = stream(core.connect_get_namespaced_pod_exec, "p", "default",
             command=["sh", "-c", "echo hi there"],
             stderr=True, stdin=False, stdout=True, tty=False)
assert out == "hi there\n", repr(out)

# Streamed: separate stdout and stderr, and the return code from the error
# channel's Status.
resp = stream(core.connect_get_namespaced_pod_exec, "p", "default",
              command=["sh", "-c", "echo out; echo err >&2; exit 3"],
              stderr=True, stdin=False, stdout=True, tty=False,
              _preload_content=False)
resp.run_forever(timeout=20)
assert resp.read_stdout() == "out\n"
assert resp.read_stderr() == "err\n"
assert resp.returncode == 3, resp.returncode

ok = stream(core.connect_get_namespaced_pod_exec, "p", "default",
            command=["true"], stderr=True, stdin=False, stdout=True, tty=False,
            _preload_content=False)
ok.run_forever(timeout=20)
assert ok.returncode == 0, ok.returncode

# stdin: written, then the v4 client can only end it by closing the socket,
# so the command reads a fixed amount.
resp = stream(core.connect_get_namespaced_pod_exec, "p", "default",
              command=["head", "-c", "6"],
              stderr=True, stdin=True, stdout=True, tty=False,
              _preload_content=False)
resp.write_stdin("abcdef")
resp.run_forever(timeout=20)
assert resp.read_stdout() == "abcdef", "stdin"
assert resp.returncode == 0
print("ok")
