#!/usr/bin/env bash
# Build (and smoke-test) the ADE container image without a Docker engine:
# buildah/podman with chroot isolation and vfs storage. When no registry is
# reachable for the FROM image, a local Debian bookworm base is made with
# debootstrap from the machine's own apt mirror.
#
#   scripts/build-image.sh            # builds localhost/ade:latest
#   IMAGE=ade:test scripts/build-image.sh
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE=${IMAGE:-localhost/ade:latest}
BASE=${BASE:-localhost/ade-base:bookworm}
WORK=${WORK:-/var/tmp/ade-image-build}
STORE=(--storage-driver vfs)

need() { command -v "$1" >/dev/null || { echo "missing $1: apt-get install -y podman buildah debootstrap" >&2; exit 1; }; }
need buildah; need podman

if ! podman "${STORE[@]}" image exists "$BASE"; then
  need debootstrap
  mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  [ -n "$mirror" ] || mirror=$(awk '/^deb / {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
  rm -rf "$WORK/rootfs" && mkdir -p "$WORK"
  echo "== debootstrap bookworm base from $mirror"
  debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm "$WORK/rootfs" "$mirror" >/dev/null
  tar -C "$WORK/rootfs" -c . | podman "${STORE[@]}" import - "$BASE" >/dev/null
  rm -rf "$WORK/rootfs"
fi

# Build from the committed tree only (git archive), never from local leftovers.
context=$(mktemp -d /var/tmp/ade-context.XXXXXX)
git archive HEAD | tar -x -C "$context"

echo "== building $IMAGE from $BASE ($(git rev-parse --short HEAD))"
started=$(date +%s)
buildah "${STORE[@]}" bud --isolation chroot --layers --format docker \
  --build-arg BASE_IMAGE="$BASE" \
  -v /etc/ssl/certs:/etc/ssl/certs:ro \
  -t "$IMAGE" "$context"
rm -rf "$context"
echo "== built in $(( $(date +%s) - started ))s"

echo "== smoke test: first start inside the image (embedded Postgres as user ade), then /v1/health/"
ctr=$(buildah "${STORE[@]}" from "$IMAGE")
trap 'buildah "${STORE[@]}" rm "$ctr" >/dev/null' EXIT
buildah "${STORE[@]}" run --isolation chroot --user ade \
  --env ADE_DATA_DIR=/tmp/ade-smoke --env ADE_PG_CLEANUP=delete --env ADE_PORT=18283 \
  --env ADE_HOST=127.0.0.1 --env ADE_ADMIN_PASSWORD=smoke-test-pass "$ctr" -- sh -c '
    python3 manage.py serve > /tmp/serve.log 2>&1 & server=$!
    python3 - <<PY
import sys, time, urllib.request
for _ in range(120):
    try:
        body = urllib.request.urlopen("http://127.0.0.1:18283/v1/health/", timeout=2).read().decode()
        print("health:", body)
        break
    except OSError:
        time.sleep(1)
else:
    print(open("/tmp/serve.log").read())
    sys.exit("the server did not answer")
PY
    status=$?
    kill "$server" 2>/dev/null; wait "$server"
    exit $status'
podman "${STORE[@]}" image ls "$IMAGE"
