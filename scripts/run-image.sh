#!/usr/bin/env bash
# Start the localvision image detached, with what this machine needs, and print the container id
# on the last line.
#
#   bash scripts/run-image.sh [-p HOST_PORT:8000] [-v DIR_OR_VOLUME:/data] [-e VAR=VALUE]...
#                             [--name NAME] [--image IMAGE]
#
# Defaults: -p 8000:8000 -v localvision:/data, image localvision:latest. Docker is used when its
# engine answers, else podman as root with the flags the project's machines need: vfs storage,
# Debian's runc (crun 1.8 refuses their hybrid cgroups), cgroupfs, the file events backend, and
# ulimits below the sandbox's own (podman's defaults are above them). A host folder given to -v
# must be writable by the image's user, uid 10001 (a named volume is set up by the engine).
# Then open http://127.0.0.1:HOST_PORT/; `docker logs ID` / `podman logs ID` show how to make the
# first API key or admin.
set -euo pipefail
say() { printf 'run-image: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 2; }

image="localvision:latest"; ports=(); volumes=(); envs=(); name=()
while [ $# -gt 0 ]; do
    case "$1" in
        -p|--publish) ports+=(-p "$2"); shift 2 ;;
        -v|--volume) volumes+=(-v "$2"); shift 2 ;;
        -e|--env) envs+=(-e "$2"); shift 2 ;;
        --name) name=(--name "$2"); shift 2 ;;
        --image) image="$2"; shift 2 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument $1 (see --help)" ;;
    esac
done
[ ${#ports[@]} -gt 0 ] || ports=(-p 8000:8000)
[ ${#volumes[@]} -gt 0 ] || volumes=(-v localvision:/data)

tool="${LOCALVISION_IMAGE_TOOL:-}"
if [ -z "$tool" ]; then
    if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then tool=docker
    elif command -v podman >/dev/null 2>&1; then tool=podman
    else die "no container engine: install docker or podman (Debian: apt-get install podman runc)"
    fi
fi
case "$tool" in
    docker) ctl=(docker); extra=() ;;
    podman)
        [ "$(id -u)" -eq 0 ] || die "podman runs here as root (vfs storage, runc); run this as root or with sudo"
        ctl=(podman --storage-driver vfs --runtime runc --cgroup-manager=cgroupfs --events-backend=file)
        extra=(--ulimit nofile=10000:10000 --ulimit nproc=4096:4096) ;;
    *) die "LOCALVISION_IMAGE_TOOL must be docker or podman, not $tool" ;;
esac
"${ctl[@]}" image inspect "$image" >/dev/null 2>&1 || die "no image $image: build it with bash scripts/build-image.sh"
id="$("${ctl[@]}" run --detach "${name[@]}" "${extra[@]}" "${ports[@]}" "${volumes[@]}" "${envs[@]}" "$image")"
say "started with $tool; logs: ${ctl[0]} logs $id"
echo "$id"
