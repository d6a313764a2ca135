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

echo "== building $IMAGE from $BASE"
started=$(date +%s)
buildah "${STORE[@]}" bud --isolation chroot --layers \
  --build-arg BASE_IMAGE="$BASE" \
  -v /etc/ssl/certs:/etc/ssl/certs:ro \
  -t "$IMAGE" .
echo "== built in $(( $(date +%s) - started ))s"

echo "== smoke test: Django checks and imports inside the image"
ctr=$(buildah "${STORE[@]}" from "$IMAGE")
trap 'buildah "${STORE[@]}" rm "$ctr" >/dev/null' EXIT
buildah "${STORE[@]}" run --isolation chroot --user ade \
  --env ADE_DATA_DIR=/tmp/ade-smoke --env DATABASE_URL=postgresql://smoke@127.0.0.1:1/none "$ctr" -- \
  python3 -c "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'ade.settings'); django.setup(); \
from django.core.management import call_command; call_command('check'); print('image ok: django', django.get_version())"
podman "${STORE[@]}" image ls "$IMAGE"
