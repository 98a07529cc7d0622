#!/usr/bin/env bash
# Build the CPU image without a Docker daemon, start it, and ask it one question (CI runs this: `make test-image`).
#
#   bash deploy/image.sh                       # base from Debian packages, image, then the smoke test
#   BASE_IMAGE=python:3.11.14-slim-bookworm bash deploy/image.sh    # build FROM an image you already have
#
# 1. base: mmdebstrap makes a minimal Debian (python3, its venv module, passwd) and buildah commits it as
#    $BASE_IMAGE; no container registry is needed. Skipped when BASE_IMAGE names an existing image.
# 2. image: `buildah bud --isolation chroot` builds deploy/docker/Dockerfile.cpu. The host's CA bundle and pip
#    find-links folder (for torch's CPU wheel) are mounted for the build only, never copied into the image.
# 3. smoke test: `buildah run --isolation chroot` starts the image's own entrypoint and command as the image's
#    user, with a fresh host folder as the /data volume, waits for /readyz, asks one question and fails unless the
#    answer cites a source and the data folder was written by the image's non-root user.
# Prints the build time and the image size. Any failure, including a missing tool, ends with one line on stderr and
# a non-zero exit: CI fails rather than skipping.
set -euo pipefail
cd "${0%/*}/.."

IMAGE=${IMAGE:-localhost/support-assistant:cpu}
SUITE=${SUITE:-bookworm}
BASE_IMAGE=${BASE_IMAGE:-localhost/debian-python:$SUITE}
READY_TIMEOUT=${READY_TIMEOUT:-600}
QUESTION=${QUESTION:-How long does a refund take to reach my card?}
export STORAGE_DRIVER=${STORAGE_DRIVER:-vfs}  # overlay needs kernel support a nested build host may lack
WORK=""
server=""
container=""

die() { echo "deploy/image.sh: $*" >&2; exit 1; }
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  if [ -n "$container" ]; then buildah rm "$container" >/dev/null 2>&1 || true; fi
  if [ -n "$WORK" ]; then rm -rf "$WORK"; fi
}
trap cleanup EXIT

for tool in buildah mmdebstrap python3; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed (Debian: apt-get install buildah mmdebstrap)"
done
WORK=$(mktemp -d)

# 1. base
if buildah inspect --type image "$BASE_IMAGE" >/dev/null 2>&1; then
  echo "base: $BASE_IMAGE (already present)"
else
  echo "base: mmdebstrap $SUITE -> $BASE_IMAGE"
  mmdebstrap --quiet --variant=minbase --include=python3,python3-venv,passwd "$SUITE" "$WORK/base.tar" \
    > "$WORK/mmdebstrap.log" 2>&1 \
    || die "mmdebstrap could not make the $SUITE base: $(grep -m1 -E '^E:' "$WORK/mmdebstrap.log" || tail -1 "$WORK/mmdebstrap.log")"
  base=$(buildah from scratch) || die "buildah cannot create a container (storage driver $STORAGE_DRIVER)"
  buildah add "$base" "$WORK/base.tar" / >/dev/null && buildah commit --quiet --rm "$base" "$BASE_IMAGE" >/dev/null \
    || die "buildah could not commit the base image $BASE_IMAGE"
  rm -f "$WORK/base.tar"
fi

# 2. image
build=(--isolation chroot --layers --format docker -f deploy/docker/Dockerfile.cpu --ignorefile deploy/docker/Dockerfile.cpu.dockerignore
       --build-arg "BASE_IMAGE=$BASE_IMAGE" -t "$IMAGE")
ca=${PIP_CERT:-$(python3 -m pip config get global.cert 2>/dev/null || true)}
if [ -n "$ca" ] && [ -f "$ca" ]; then build+=(-v "$ca:/run/build-ca.crt:ro" --build-arg PIP_CERT=/run/build-ca.crt); fi
wheels=${PIP_FIND_LINKS:-$(python3 -m pip config get global.find-links 2>/dev/null || true)}
if [ -n "$wheels" ] && [ -d "$wheels" ]; then
  build+=(-v "$wheels:/wheels:ro" --build-arg "TORCH_SOURCE=--find-links /wheels")
fi
echo "image: buildah bud $IMAGE (log: $WORK/build.log while it runs)"
start=$(date +%s)
buildah bud "${build[@]}" . > "$WORK/build.log" 2>&1 || { tail -20 "$WORK/build.log" >&2; die "the image build failed"; }
seconds=$(( $(date +%s) - start ))
size=$(buildah images --format '{{.Size}}' "$IMAGE" | head -1)
echo "image: $IMAGE built in ${seconds} s, size $size"

# 3. smoke test: the image's own entrypoint, user and environment; loopback only
read -r -a command <<< "$(buildah inspect --type image --format \
  '{{range .OCIv1.Config.Entrypoint}}{{.}} {{end}}{{range .OCIv1.Config.Cmd}}{{.}} {{end}}' "$IMAGE")"
user=$(buildah inspect --type image --format '{{.OCIv1.Config.User}}' "$IMAGE")
case "${user%%:*}" in ""|0|root) die "the image runs as root (USER '$user')";; esac
mkdir "$WORK/data"
chown "$user" "$WORK/data" 2>/dev/null || chmod 777 "$WORK/data"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
container=$(buildah from "$IMAGE")
# buildah run puts its own anonymous volume on the image's VOLUME paths, hiding a bind mount there: undeclare
# /data on this working container so the host folder below is the volume the server writes to
buildah config --volume /data- "$container"
echo "run: ${command[*]} as $user on 127.0.0.1:$port, /data on $WORK/data"
buildah run --isolation chroot --user "$user" -v "$WORK/data:/data" \
  --env ASSISTANT_SERVER__HOST=127.0.0.1 --env "ASSISTANT_SERVER__PORT=$port" \
  "$container" -- "${command[@]}" > "$WORK/server.log" 2>&1 &
server=$!
python3 - "$port" "$READY_TIMEOUT" "$server" "$QUESTION" "$WORK/data" "${user%%:*}" <<'EOF' \
  || { tail -20 "$WORK/server.log" >&2; die "the container did not answer with a source"; }
import json, os, sys, time, urllib.error, urllib.request
port, timeout, pid, question, data, uid = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6]
base = f"http://127.0.0.1:{port}"
start = time.monotonic()
while True:
    try:
        with urllib.request.urlopen(base + "/readyz", timeout=5) as r:
            if r.status == 200:
                break
    except urllib.error.HTTPError as e:  # 503 while loading; a failed start is final
        body = json.loads(e.read() or b"{}")
        if body.get("status") == "error":
            sys.exit(f"the server failed to start: {body.get('detail')}")
    except (urllib.error.URLError, OSError):
        pass
    if time.monotonic() - start > timeout:
        sys.exit(f"not ready after {timeout:.0f} s")
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        sys.exit("the container exited before it was ready")
    time.sleep(1)  # polling /readyz: the condition itself is awaited
print(f"ready after {time.monotonic() - start:.0f} s")
request = urllib.request.Request(base + "/v1/chat", data=json.dumps({"message": question}).encode(),
                                 headers={"Content-Type": "application/json"})
with urllib.request.urlopen(request, timeout=120) as r:
    reply = json.load(r)
print(f"Q: {question}\nA: {reply.get('answer')}\nsources: {[s.get('title') for s in reply.get('sources') or []]}")
if not reply.get("sources"):
    sys.exit("the answer has no source")
owners = {os.stat(os.path.join(root, f)).st_uid for root, _, files in os.walk(data) for f in files}
if owners != {int(uid)}:
    sys.exit(f"/data was written by uids {sorted(owners)}, not the image's user {uid}")
EOF
echo "ok: $IMAGE answered with a source, as uid ${user%%:*}"
