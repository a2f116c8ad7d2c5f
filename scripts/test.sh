#!/usr/bin/env bash
# The README's test command: installs what the tests need beyond the Rust
# toolchain (Debian packages, the Python client), then runs every test.
# Arguments go to `cargo test` (e.g. `scripts/test.sh -p api`).
set -euo pipefail
cd "$(dirname "$0")/.."

# apt-get as root, or through sudo.
apt_get() {
  local sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "$@"
}

# From Debian: curl (raw HTTP checks), sqlite3 (store inspection), tmux (a
# real terminal for `kubectl exec -it` and `attach -it`), openssl (a client
# certificate for /metrics), prometheus (promtool check metrics and a real
# scrape), chromium and chromium-driver (the dashboard's browser test,
# driven over WebDriver), and the container rig of the container-runtime
# tests (scripts/container-rig.sh): Podman with runc (crun 1.8 rejects
# hybrid cgroups), catatonit, a static busybox for the test images (and the
# HTTP server behind the `kubectl port-forward` test; busybox-static
# conflicts with Debian's busybox, so only it), a loopback registry,
# binutils' strip, and apache2-utils' htpasswd (the login of the rig's second
# registry, for the imagePullSecrets test). The container tests run on Docker
# Engine too: docker.io (dockerd 20.10 with its containerd; it shares
# Debian's runc with Podman), iproute2 for the rig's bridge and openssl for
# its CA. The rig runs its own dockerd; a system one is never used.
need=()
command -v curl >/dev/null || need+=(curl)
command -v sqlite3 >/dev/null || need+=(sqlite3)
command -v tmux >/dev/null || need+=(tmux)
command -v podman >/dev/null || need+=(podman)
command -v runc >/dev/null || need+=(runc)
command -v catatonit >/dev/null || need+=(catatonit)
dpkg -s busybox-static >/dev/null 2>&1 || need+=(busybox-static)
command -v docker-registry >/dev/null || need+=(docker-registry)
command -v newuidmap >/dev/null || need+=(uidmap)
command -v strip >/dev/null || need+=(binutils)
# The container rig's packages come with their recommends (Podman's
# networking and storage helpers); the rest without (Chromium's are many).
lean=()
command -v openssl >/dev/null || lean+=(openssl)
command -v promtool >/dev/null || lean+=(prometheus)
command -v htpasswd >/dev/null || lean+=(apache2-utils)
command -v dockerd >/dev/null || lean+=(docker.io)
command -v ip >/dev/null || lean+=(iproute2)
command -v chromium >/dev/null || lean+=(chromium)
command -v chromedriver >/dev/null || lean+=(chromium-driver)
if [ "${#need[@]}" -gt 0 ] || [ "${#lean[@]}" -gt 0 ]; then
  apt_get update -qq
fi
if [ "${#need[@]}" -gt 0 ]; then
  apt_get install -y -qq "${need[@]}"
fi
if [ "${#lean[@]}" -gt 0 ]; then
  apt_get install -y -qq --no-install-recommends "${lean[@]}"
fi

# The Python Kubernetes client for the client-compatibility tests.
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/pip install -q --disable-pip-version-check kubernetes
export JOBLITE_TEST_PYTHON="$PWD/.venv/bin/python"

# kubectl: the versioned binaries ship with the machine's Google Cloud SDK.
ls /usr/lib/google-cloud-sdk/bin/kubectl.1.* >/dev/null

cargo test --workspace "$@"
