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
# With ENGINE=docker the engine is Docker Engine (Debian's docker.io) instead
# of Podman: dockerd on its own socket, data root, exec root and pidfile,
# with a bridge of the rig's own (jldkN, 10.214.N.0/24), no iptables rules,
# no IP forwarding, and its own /etc/docker; it never touches the host's
# /var/run/docker.sock. dockerd has no registries.conf, so the rig makes the
# registry names real instead: dockerd runs in a mount namespace of its own
# whose /etc/hosts maps gcr.io and registry-1.docker.io to a loopback
# address of the rig's own (127.77.X.Y), where a second docker-registry on
# the same storage serves TLS on :443 with a certificate for those names
# from a CA of the rig's (trusted by dockerd through SSL_CERT_FILE). A pull
# of gcr.io/kuar-demo/kuard-amd64:blue or docker.io/library/busybox is then
# an ordinary HTTPS pull, all on loopback. 127.0.0.1:PORT needs nothing:
# dockerd treats 127.0.0.0/8 as an insecure (plain HTTP) registry.
#
# Usage:
#   [ENGINE=docker] scripts/container-rig.sh start DIR [KUARD_BINARY]  # everything, in the background
#   eval "$(scripts/container-rig.sh env DIR)"         # DOCKER_HOST and podman's env
#   scripts/container-rig.sh stop DIR                  # stop and remove everything
# Steps (the black-box tests run them one by one):
#   config DIR PORT [AUTH_PORT] | serve-registry DIR | serve-auth-registry DIR
#   | serve-podman DIR | images DIR [KUARD_BINARY]
#   and for Docker: serve-tls-registry DIR | serve-dockerd DIR
# `config` records the engine in DIR/engine; the other steps read it there.
# Needs root and Debian's podman runc catatonit busybox-static docker-registry
# (and apache2-utils' htpasswd for the registry with a login; docker.io,
# iproute2 and openssl for ENGINE=docker).
set -euo pipefail

cmd=${1:?usage: container-rig.sh start|stop|env|config|serve-registry|serve-podman|images DIR ...}
dir=${2:?DIR}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
if [ "$cmd" = config ] || [ "$cmd" = start ]; then
  engine=${ENGINE:-podman}
else
  engine=$(cat "$dir/engine" 2>/dev/null || echo "${ENGINE:-podman}")
fi
case "$engine" in
  podman | docker) ;;
  *) echo "container-rig: ENGINE must be podman or docker, not $engine" >&2; exit 2 ;;
esac
# Debian's docker client (a newer one may come first in PATH).
docker_cli=/usr/bin/docker

# The login of the registry that requires one.
auth_user=joblite
auth_password=rig-pull-secret

rig_env() {
  export CONTAINERS_CONF="$dir/containers.conf"
  export CONTAINERS_STORAGE_CONF="$dir/storage.conf"
  export CONTAINERS_REGISTRIES_CONF="$dir/registries.conf"
  if [ "$engine" = docker ]; then
    export DOCKER_HOST="unix://$dir/docker.sock" DOCKER_CONFIG="$dir/docker-config"
  else
    export DOCKER_HOST="unix://$dir/podman.sock"
  fi
}

# The engine's socket.
engine_sock() {
  if [ "$engine" = docker ]; then echo "$dir/docker.sock"; else echo "$dir/podman.sock"; fi
}

# The number of dockerd's bridge (jldkN, 10.214.N.0/24), claimed by config;
# the rig's loopback address, from the registry port, which no other live
# rig has.
rig_number() { cat "$dir/bridge-number"; }
rig_loopback() {
  local port
  port=$(cat "$dir/registry-port")
  echo "127.77.$((port / 256)).$((port % 256))"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

config() {
  local port=$1 auth_port=${2:-}
  mkdir -p "$dir/storage" "$dir/run" "$dir/net" "$dir/registry" "$dir/tmp"
  echo "$port" >"$dir/registry-port"
  echo "$engine" >"$dir/engine"
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
  if [ "$engine" = docker ]; then
    docker_config "$port"
  fi
}

# dockerd's configuration, the names it resolves, and the TLS registry.
docker_config() {
  local port=$1 n='' i addr
  # A bridge of the rig's own: creating it is the claim, so two rigs never
  # share one.
  for i in $(seq 0 249); do
    if ip link add "jldk$(( (port + i) % 250 + 1 ))" type bridge 2>/dev/null; then
      n=$(( (port + i) % 250 + 1 ))
      break
    fi
  done
  if [ -z "$n" ]; then
    echo "container-rig: no free bridge name jldk1..250" >&2
    return 1
  fi
  echo "$n" >"$dir/bridge-number"
  ip addr add "10.214.$n.1/24" dev "jldk$n"
  ip link set "jldk$n" up
  addr=$(rig_loopback)
  mkdir -p "$dir/docker-root" "$dir/docker-exec" "$dir/docker-config" "$dir/tls"
  cat >"$dir/daemon.json" <<EOF
{
  "hosts": ["unix://$dir/docker.sock"],
  "data-root": "$dir/docker-root",
  "exec-root": "$dir/docker-exec",
  "pidfile": "$dir/docker.pid",
  "bridge": "jldk$n",
  "iptables": false,
  "ip6tables": false,
  "ip-forward": false,
  "ip-masq": false,
  "userland-proxy": false,
  "default-ulimits": {"nofile": {"Name": "nofile", "Soft": 1024, "Hard": 1024}},
  "log-level": "warn"
}
EOF
  # The names dockerd pulls from, on the rig's loopback address.
  { cat /etc/hosts; echo "$addr gcr.io registry-1.docker.io index.docker.io"; } >"$dir/hosts"
  # A CA of the rig's own and the registry's certificate for those names.
  (
    cd "$dir/tls"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 7 \
      -keyout ca.key -out ca.crt -subj /CN=joblite-rig-ca \
      -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
      -keyout registry.key -out registry.csr -subj /CN=gcr.io 2>/dev/null
    printf 'subjectAltName=DNS:gcr.io,DNS:registry-1.docker.io,DNS:index.docker.io,IP:%s\nextendedKeyUsage=serverAuth\n' "$addr" >ext.cnf
    openssl x509 -req -in registry.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 7 \
      -extfile ext.cnf -out registry.crt 2>/dev/null
    cat /etc/ssl/certs/ca-certificates.crt ca.crt >bundle.crt 2>/dev/null || cp ca.crt bundle.crt
  )
  cat >"$dir/tls-registry.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $dir/registry
  delete:
    enabled: true
http:
  addr: $addr:443
  tls:
    certificate: $dir/tls/registry.crt
    key: $dir/tls/registry.key
EOF
}

# dockerd in a mount namespace of its own, on the rig's bridge. In there
# /etc/hosts is the rig's, and the places dockerd and its containerd write
# outside their roots (/etc/docker's key.json, /run/docker/plugins,
# /run/containerd/s's shim sockets) are directories of the rig's.
serve_dockerd() {
  local n
  n=$(rig_number)
  if ! ip link show "jldk$n" >/dev/null 2>&1; then
    echo "container-rig: the rig's bridge jldk$n is gone" >&2
    exit 1
  fi
  rm -f "$dir/docker.sock"
  exec env SSL_CERT_FILE="$dir/tls/bundle.crt" unshare --mount --propagation private \
    sh -c 'mount --bind "$1/hosts" /etc/hosts \
      && for d in etc/docker run/docker run/containerd; do
           mkdir -p "/$d" "$1/ns/$d" && mount --bind "$1/ns/$d" "/$d" || exit 1
         done \
      && exec dockerd --config-file "$1/daemon.json"' sh "$dir"
}

wait_socket() {
  local sock
  sock=$(engine_sock)
  for _ in $(seq 1 600); do
    if curl -sf --unix-socket "$sock" http://d/_ping >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.05
  done
  echo "container-rig: $engine did not answer on $sock" >&2
  return 1
}

# A root filesystem tarball from a directory, imported as an image.
import_dir() {
  local root=$1 ref=$2 cmd_json=$3
  tar -C "$root" -cf "$root.tar" .
  if [ "$engine" = docker ]; then
    "$docker_cli" import --change "CMD $cmd_json" "$root.tar" "$ref" >/dev/null
  else
    podman import --change "CMD $cmd_json" "$root.tar" "$ref" >/dev/null
  fi
  rm -f "$root.tar"
}

# Pushes a local image to a registry, with an optional user:password.
push() {
  local src=$1 dst=$2 creds=${3:-}
  if [ "$engine" = docker ]; then
    if [ -n "$creds" ]; then
      "$docker_cli" login -u "${creds%%:*}" --password-stdin "${dst%%/*}" <<<"${creds#*:}" >/dev/null 2>&1
    fi
    "$docker_cli" tag "$src" "$dst"
    "$docker_cli" push -q "$dst" >/dev/null
    "$docker_cli" rmi "$dst" >/dev/null
  else
    local c=()
    [ -z "$creds" ] || c=(--creds "$creds")
    podman push -q --tls-verify=false "${c[@]}" "$src" "docker://$dst"
  fi
}

tag() {
  if [ "$engine" = docker ]; then "$docker_cli" tag "$1" "$2"; else podman tag "$1" "$2"; fi
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
  push localhost/busybox:latest "$reg/library/busybox:latest"
  tag localhost/busybox:latest docker.io/library/busybox:latest
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
    push localhost/kuard:latest "$reg/kuar-demo/kuard-amd64:blue"
  fi
  if [ -f "$dir/auth-registry-port" ]; then
    # Only in the registry, and only with the login.
    push localhost/busybox:latest "127.0.0.1:$(cat "$dir/auth-registry-port")/private/busybox:latest" \
      "$auth_user:$auth_password"
  fi
  rm -rf "$work"
}

# The processes whose command line names the rig's directory (dockerd's
# containerd and shims); only this rig's, by pid.
rig_pids() {
  local p line
  for p in /proc/[0-9]*; do
    line=$(tr '\0' ' ' 2>/dev/null <"$p/cmdline") || continue
    if [[ $line == *"$dir/"* ]]; then
      echo "${p#/proc/}"
    fi
  done
}

stop_docker() {
  rig_env
  if [ -S "$dir/docker.sock" ] && curl -sf --unix-socket "$dir/docker.sock" http://d/_ping >/dev/null 2>&1; then
    local ids
    ids=$("$docker_cli" ps -aq 2>/dev/null || true)
    [ -z "$ids" ] || "$docker_cli" rm -f $ids >/dev/null 2>&1 || true
  fi
  # dockerd stops its containerd when it ends.
  if [ -f "$dir/docker.pid" ]; then
    local pid
    pid=$(cat "$dir/docker.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
  fi
  # A dockerd that died left its containers: runc removes them.
  local root="$dir/docker-exec/runtime-runc/moby"
  if [ -d "$root" ]; then
    for c in $(runc --root "$root" list -q 2>/dev/null); do
      runc --root "$root" delete -f "$c" >/dev/null 2>&1 || true
    done
  fi
  for f in registry.pid auth-registry.pid tls-registry.pid; do
    if [ -f "$dir/$f" ]; then
      kill -9 "$(cat "$dir/$f")" 2>/dev/null || true
    fi
  done
  for pid in $(rig_pids); do
    [ "$pid" = $$ ] || [ "$pid" = "$BASHPID" ] || kill -9 "$pid" 2>/dev/null || true
  done
  if [ -f "$dir/bridge-number" ]; then
    ip link del "jldk$(rig_number)" 2>/dev/null || true
  fi
  { grep -F " $dir/" /proc/mounts || true; } | awk '{print $2}' | sort -r | while read -r m; do
    umount -l "$m" 2>/dev/null || true
  done
  rm -rf "$dir"
}

stop() {
  if [ "$engine" = docker ]; then
    stop_docker
    return
  fi
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
  serve-tls-registry) exec docker-registry serve "$dir/tls-registry.yml" ;;
  serve-dockerd) serve_dockerd ;;
  serve-podman)
    rig_env
    rm -f "$dir/podman.sock"
    # conmon inherits the service's directory and writes an `oom` file
    # there when a container is OOM-killed: keep it in the rig's.
    cd "$dir"
    exec podman system service --time=0 "unix://$dir/podman.sock"
    ;;
  images) rig_env; images "${3:-}" ;;
  env)
    rig_env
    if [ "$engine" = docker ]; then
      printf 'export DOCKER_HOST=%q DOCKER_CONFIG=%q\n' "$DOCKER_HOST" "$DOCKER_CONFIG"
    else
      printf 'export CONTAINERS_CONF=%q CONTAINERS_STORAGE_CONF=%q CONTAINERS_REGISTRIES_CONF=%q DOCKER_HOST=%q\n' \
        "$CONTAINERS_CONF" "$CONTAINERS_STORAGE_CONF" "$CONTAINERS_REGISTRIES_CONF" "$DOCKER_HOST"
    fi
    ;;
  start)
    config "${RIG_REGISTRY_PORT:-$(free_port)}" "${RIG_AUTH_REGISTRY_PORT:-$(free_port)}"
    rig_env
    nohup docker-registry serve "$dir/registry.yml" >"$dir/registry.log" 2>&1 &
    echo $! >"$dir/registry.pid"
    nohup docker-registry serve "$dir/auth-registry.yml" >"$dir/auth-registry.log" 2>&1 &
    echo $! >"$dir/auth-registry.pid"
    if [ "$engine" = docker ]; then
      nohup docker-registry serve "$dir/tls-registry.yml" >"$dir/tls-registry.log" 2>&1 &
      echo $! >"$dir/tls-registry.pid"
      nohup bash "$0" serve-dockerd "$dir" >"$dir/dockerd.log" 2>&1 &
    else
      nohup podman system service --time=0 "unix://$dir/podman.sock" >"$dir/podman.log" 2>&1 &
      echo $! >"$dir/podman.pid"
    fi
    wait_socket
    images "${3:-}"
    echo "container-rig: ready; eval \"\$($0 env $dir)\" to use it" >&2
    ;;
  stop) stop ;;
  *) echo "container-rig: unknown command $cmd" >&2; exit 2 ;;
esac
