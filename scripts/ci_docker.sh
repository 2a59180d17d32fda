#!/usr/bin/env bash
# Brings up a Docker engine for tests/docker/ without systemd and without any registry:
#   1. installs Debian's docker.io (dockerd), busybox-static, mmdebstrap and docker-registry (the
#      image registry tests start on 127.0.0.1, which dockerd trusts over plain HTTP) when missing;
#   2. starts dockerd by hand unless `docker info` already answers (DOCKER_HOST honoured), waits
#      for its socket; retries with --iptables=false and then the vfs storage driver when the
#      default start fails on this kind of VM;
#   3. builds the test base images offline:
#        mlproject-test/busybox:1        busybox-static, shell only (0.1 s)
#        mlproject-test/debian-py:12     Debian bookworm + python3 from the Debian mirror
#      (mmdebstrap tarball cached in ${MLPROJECT_DOCKER_CACHE:-$HOME/.cache/mlproject/docker});
#   4. installs mlflow-skinny 2.17.2 for the image's python3 (3.11) with uv into that cache
#      (mlflow-skinny-2.17.2-py3.11/), which tests mount to log into a run from a container.
# Idempotent: an answering engine and existing images are kept. Exit status 0 when the engine
# answers and both images exist. dockerd's log: $cache/dockerd.log.
set -uo pipefail
cache="${MLPROJECT_DOCKER_CACHE:-$HOME/.cache/mlproject/docker}"
mkdir -p "$cache"
say() { echo "ci_docker: $*"; }

need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
[ -x /bin/busybox ] && /bin/busybox --list 2>/dev/null | grep -qx sh || need+=(busybox-static)
command -v mmdebstrap >/dev/null 2>&1 || need+=(mmdebstrap)
command -v docker-registry >/dev/null 2>&1 || need+=(docker-registry)
if [ ${#need[@]} -gt 0 ]; then
  say "installing ${need[*]}"
  apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null ||
    { say "apt-get install ${need[*]} failed" >&2; exit 1; }
fi
command -v docker >/dev/null 2>&1 || { say "no docker CLI on PATH" >&2; exit 1; }

engine_up() { docker info >/dev/null 2>&1; }

start_dockerd() { # extra dockerd flags → 0 when `docker info` answers within ~30 s
  say "starting dockerd $*"
  nohup dockerd "$@" >>"$cache/dockerd.log" 2>&1 &
  local pid=$!
  echo "$pid" >"$cache/dockerd.pid"
  for _ in $(seq 1 60); do
    if engine_up; then return 0; fi
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.5
  done
  kill "$pid" 2>/dev/null
  return 1
}

if engine_up; then
  say "engine answers ($(docker info --format '{{.ServerVersion}} {{.Driver}}' 2>/dev/null))"
elif [ -n "${DOCKER_HOST:-}" ] && [ "${DOCKER_HOST#unix://}" = "$DOCKER_HOST" ]; then
  say "DOCKER_HOST=$DOCKER_HOST does not answer and is not a local socket" >&2
  exit 1
else
  sock=/var/run/docker.sock
  [ -n "${DOCKER_HOST:-}" ] && sock="${DOCKER_HOST#unix://}"
  start_dockerd -H "unix://$sock" ||
    start_dockerd -H "unix://$sock" --iptables=false ||
    start_dockerd -H "unix://$sock" --iptables=false --storage-driver=vfs ||
    { say "dockerd did not start; see $cache/dockerd.log" >&2; tail -n 20 "$cache/dockerd.log" >&2; exit 1; }
  say "dockerd up ($(docker info --format '{{.ServerVersion}} {{.Driver}}' 2>/dev/null))"
fi

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

if ! have_image mlproject-test/busybox:1; then
  bb=$(mktemp -d)
  mkdir -p "$bb/bin" "$bb/tmp" "$bb/etc"
  cp /bin/busybox "$bb/bin/busybox"
  for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "$bb/bin/$a"; done
  echo 'root:x:0:0:root:/root:/bin/sh' >"$bb/etc/passwd"
  tar -C "$bb" -c . | docker import --change 'ENV PATH=/bin' --change 'CMD ["sh"]' - \
    mlproject-test/busybox:1 >/dev/null || { say "busybox import failed" >&2; exit 1; }
  rm -rf "$bb"
  say "built mlproject-test/busybox:1"
fi

if ! have_image mlproject-test/debian-py:12; then
  tarball="$cache/debian-py-bookworm.tar"
  if [ ! -f "$tarball" ] || [ ! -s "$tarball" ]; then
    rm -rf "$tarball" "$cache/debian-py-bookworm.part.tar"
    mirror="${DEBIAN_MIRROR:-$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null)}"
    mirror="${mirror:-http://deb.debian.org/debian}"
    say "mmdebstrap bookworm + python3 from $mirror (≈ 30 s)"
    mmdebstrap --quiet --variant=essential --include=python3,ca-certificates \
      --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
      --dpkgopt='path-exclude=/usr/share/man/*' bookworm "$cache/debian-py-bookworm.part.tar" "$mirror" \
      >"$cache/mmdebstrap.log" 2>&1 ||
      { say "mmdebstrap failed; see $cache/mmdebstrap.log" >&2; tail -n 20 "$cache/mmdebstrap.log" >&2; exit 1; }
    mv "$cache/debian-py-bookworm.part.tar" "$tarball"
  fi
  docker import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["bash"]' "$tarball" mlproject-test/debian-py:12 >/dev/null ||
    { say "import of $tarball failed" >&2; exit 1; }
  say "built mlproject-test/debian-py:12"
fi
# MLflow (skinny) for the container's python3 3.11, mounted by tests/docker to log from a child.
site="$cache/mlflow-skinny-2.17.2-py3.11"
export PATH="$HOME/.local/bin:$PATH"
if [ ! -f "$site/.complete" ] && command -v uv >/dev/null 2>&1; then
  rm -rf "$site"
  uv pip install --quiet --target "$site" --python-version 3.11 \
    --python-platform x86_64-manylinux_2_28 mlflow-skinny==2.17.2 && touch "$site/.complete" &&
    say "installed mlflow-skinny 2.17.2 for python 3.11 in $site" ||
    say "mlflow-skinny for the container could not be installed (its test will skip)" >&2
fi
say "ready: $(docker image ls --format '{{.Repository}}:{{.Tag}}' mlproject-test/busybox) $(docker image ls --format '{{.Repository}}:{{.Tag}}' mlproject-test/debian-py)"
