#!/usr/bin/env bash
# A private, offline container rig for joblite's container runtime: a
# Podman API service on its own socket with its own containers.conf,
# storage and network, a loopback docker-registry, and images made from
# local files (nothing is fetched from outside):
#
#   busybox   the host's busybox-static with its applets; pushed as
#             docker.io/library/busybox:latest (so `--image=busybox` works)
#   kuard     joblite's crates/kuard binary; pushed as
#             gcr.io/kuar-demo/kuard-amd64:blue (the seed's image)
#
# registries.conf maps the gcr.io and docker.io prefixes to the loopback
# registry, so `imagePullPolicy: Always` really pulls.
#
# With AUTH_PORT, a second loopback registry that requires a login (htpasswd,
# user `joblite`, password `rig-pull-secret`) holds busybox as
# 127.0.0.1:AUTH_PORT/private/busybox:latest, for the imagePullSecrets tests.
#
# Usage:
#   scripts/container-rig.sh start DIR [KUARD_BINARY]  # everything, in the background
#   eval "$(scripts/container-rig.sh env DIR)"         # DOCKER_HOST and podman's env
#   scripts/container-rig.sh stop DIR                  # stop and remove everything
# Steps (the black-box tests run them one by one):
#   config DIR PORT [AUTH_PORT] | serve-registry DIR | serve-auth-registry DIR
#   | serve-podman DIR | images DIR [KUARD_BINARY]
# Needs root and Debian's podman runc catatonit busybox-static docker-registry
# (and apache2-utils' htpasswd for the registry with a login).
set -euo pipefail

cmd=${1:?usage: container-rig.sh start|stop|env|config|serve-registry|serve-podman|images DIR ...}
dir=${2:?DIR}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

# The login of the registry that requires one.
auth_user=joblite
auth_password=rig-pull-secret

rig_env() {
  export CONTAINERS_CONF="$dir/containers.conf"
  export CONTAINERS_STORAGE_CONF="$dir/storage.conf"
  export CONTAINERS_REGISTRIES_CONF="$dir/registries.conf"
  export DOCKER_HOST="unix://$dir/podman.sock"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

config() {
  local port=$1 auth_port=${2:-}
  mkdir -p "$dir/storage" "$dir/run" "$dir/net" "$dir/registry" "$dir/tmp"
  echo "$port" >"$dir/registry-port"
  # runc: Debian's crun 1.8 rejects hybrid cgroups. The default ulimits
  # must fit under the machine's hard limits.
  cat >"$dir/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
[engine]
runtime = "runc"
events_logger = "file"
events_logfile_path = "$dir/events.log"
tmp_dir = "$dir/tmp"
[network]
network_config_dir = "$dir/net"
default_network = "jlrig"
EOF
  cat >"$dir/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$dir/storage"
runroot = "$dir/run"
EOF
  cat >"$dir/registries.conf" <<EOF
unqualified-search-registries = ["docker.io"]
[[registry]]
prefix = "gcr.io"
location = "127.0.0.1:$port"
insecure = true
[[registry]]
prefix = "docker.io"
location = "127.0.0.1:$port"
insecure = true
[[registry]]
location = "127.0.0.1:$port"
insecure = true
EOF
  if [ -n "$auth_port" ]; then
    echo "$auth_port" >"$dir/auth-registry-port"
    mkdir -p "$dir/auth-registry"
    cat >>"$dir/registries.conf" <<EOF
[[registry]]
location = "127.0.0.1:$auth_port"
insecure = true
EOF
    htpasswd -Bbn "$auth_user" "$auth_password" >"$dir/htpasswd"
    cat >"$dir/auth-registry.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $dir/auth-registry
http:
  addr: 127.0.0.1:$auth_port
auth:
  htpasswd:
    realm: joblite-rig
    path: $dir/htpasswd
EOF
  fi
  cat >"$dir/registry.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $dir/registry
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
EOF
  # A network of the rig's own (own bridge and subnet), so the rig never
  # touches the machine's default podman network.
  local n=$(( ($$ + port) % 250 + 1 ))
  cat >"$dir/net/jlrig.json" <<EOF
{
  "name": "jlrig",
  "id": "$(printf '%064x' "$port")",
  "driver": "bridge",
  "network_interface": "jlrig$n",
  "created": "2026-01-01T00:00:00Z",
  "subnets": [{"subnet": "10.213.$n.0/24", "gateway": "10.213.$n.1"}],
  "ipv6_enabled": false,
  "internal": false,
  "dns_enabled": false,
  "ipam_options": {"driver": "host-local"}
}
EOF
}

wait_socket() {
  for _ in $(seq 1 200); do
    if curl -sf --unix-socket "$dir/podman.sock" http://d/_ping >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.05
  done
  echo "container-rig: podman service did not answer on $dir/podman.sock" >&2
  return 1
}

# A root filesystem tarball from a directory, imported as an image.
import_dir() {
  local root=$1 ref=$2 cmd_json=$3
  tar -C "$root" -cf "$root.tar" .
  podman import --change "CMD $cmd_json" "$root.tar" "$ref" >/dev/null
  rm -f "$root.tar"
}

base_files() {
  local root=$1
  mkdir -p "$root/etc" "$root/tmp" "$root/proc" "$root/sys" "$root/dev"
  chmod 1777 "$root/tmp"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
}

images() {
  local kuard=${1:-}
  local port
  port=$(cat "$dir/registry-port")
  local reg="127.0.0.1:$port"
  local work="$dir/image-work"
  rm -rf "$work" && mkdir -p "$work/busybox/bin"
  # busybox: the host's static busybox and its applets.
  base_files "$work/busybox"
  cp /bin/busybox "$work/busybox/bin/busybox"
  for a in $("$work/busybox/bin/busybox" --list); do
    [ "$a" = busybox ] || ln -sf busybox "$work/busybox/bin/$a"
  done
  echo "only in the image" >"$work/busybox/etc/image-marker"
  import_dir "$work/busybox" localhost/busybox:latest '["sh"]'
  podman push -q --tls-verify=false localhost/busybox:latest "docker://$reg/library/busybox:latest"
  podman tag localhost/busybox:latest docker.io/library/busybox:latest
  if [ -n "$kuard" ]; then
    # kuard: the binary and the shared libraries it links.
    mkdir -p "$work/kuard"
    base_files "$work/kuard"
    cp "$kuard" "$work/kuard/kuard"
    strip "$work/kuard/kuard" 2>/dev/null || true
    ldd "$kuard" | awk '/=>/ {print $3} /^\t\// {print $1}' | while read -r lib; do
      [ -f "$lib" ] || continue
      mkdir -p "$work/kuard$(dirname "$lib")"
      cp -L "$lib" "$work/kuard$lib"
    done
    import_dir "$work/kuard" localhost/kuard:latest '["/kuard"]'
    # Only in the registry: the seed's `imagePullPolicy: Always` pulls it.
    podman push -q --tls-verify=false localhost/kuard:latest "docker://$reg/kuar-demo/kuard-amd64:blue"
  fi
  if [ -f "$dir/auth-registry-port" ]; then
    # Only in the registry, and only with the login.
    podman push -q --tls-verify=false --creds "$auth_user:$auth_password" localhost/busybox:latest \
      "docker://127.0.0.1:$(cat "$dir/auth-registry-port")/private/busybox:latest"
  fi
  rm -rf "$work"
}

stop() {
  rig_env
  if [ -S "$dir/podman.sock" ] && curl -sf --unix-socket "$dir/podman.sock" http://d/_ping >/dev/null 2>&1; then
    podman rm -af -t 0 >/dev/null 2>&1 || true
  fi
  for f in podman.pid registry.pid auth-registry.pid; do
    if [ -f "$dir/$f" ]; then
      kill -9 "$(cat "$dir/$f")" 2>/dev/null || true
    fi
  done
  # Containers whose service died: their conmon and runc state.
  podman --root "$dir/storage" --runroot "$dir/run" rm -af -t 0 >/dev/null 2>&1 || true
  { grep -F " $dir/" /proc/mounts || true; } | awk '{print $2}' | sort -r | while read -r m; do
    umount -l "$m" 2>/dev/null || true
  done
  rm -rf "$dir"
}

case "$cmd" in
  config) config "${3:-$(free_port)}" "${4:-}" ;;
  serve-registry) exec docker-registry serve "$dir/registry.yml" ;;
  serve-auth-registry) exec docker-registry serve "$dir/auth-registry.yml" ;;
  serve-podman)
    rig_env
    rm -f "$dir/podman.sock"
    exec podman system service --time=0 "unix://$dir/podman.sock"
    ;;
  images) rig_env; images "${3:-}" ;;
  env)
    rig_env
    printf 'export CONTAINERS_CONF=%q CONTAINERS_STORAGE_CONF=%q CONTAINERS_REGISTRIES_CONF=%q DOCKER_HOST=%q\n' \
      "$CONTAINERS_CONF" "$CONTAINERS_STORAGE_CONF" "$CONTAINERS_REGISTRIES_CONF" "$DOCKER_HOST"
    ;;
  start)
    config "${RIG_REGISTRY_PORT:-$(free_port)}" "${RIG_AUTH_REGISTRY_PORT:-$(free_port)}"
    rig_env
    nohup docker-registry serve "$dir/registry.yml" >"$dir/registry.log" 2>&1 &
    echo $! >"$dir/registry.pid"
    nohup docker-registry serve "$dir/auth-registry.yml" >"$dir/auth-registry.log" 2>&1 &
    echo $! >"$dir/auth-registry.pid"
    nohup podman system service --time=0 "unix://$dir/podman.sock" >"$dir/podman.log" 2>&1 &
    echo $! >"$dir/podman.pid"
    wait_socket
    images "${3:-}"
    echo "container-rig: ready; eval \"\$($0 env $dir)\" to use it" >&2
    ;;
  stop) stop ;;
  *) echo "container-rig: unknown command $cmd" >&2; exit 2 ;;
esac
