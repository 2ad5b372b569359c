#!/usr/bin/env bash
# Build the localvision container image (Containerfile) and tag it localvision:latest, with
# whatever this machine has: docker, buildah or podman.
#
#   bash scripts/build-image.sh [--resnet18-weights FILE] [--calibration DIR] [--with-video]
#                               [--base IMAGE] [--tag NAME] [--force]
#
# 1. Stages the models and serving wheels into build/image/ with the repository's venv
#    (scripts/setup.sh; LOCALVISION_PYTHON names another Python that has localvision and torch).
#    --resnet18-weights bakes ResNet-18 in from that state dict; --calibration DIR gives the
#    photos int8 is calibrated and checked on (without it the image serves fp32 only).
#    --with-video keeps PyAV (FFmpeg, about 100 MB) for the service's camera streams; without
#    it the image classifies photos and the browser camera page, and a stream says PyAV is missing.
# 2. The base: python:3.11-slim when it can be pulled, else a Debian bookworm root made with
#    debootstrap (cached as a tarball under $LOCALVISION_CACHE, default /var/cache/localvision),
#    imported as an image (`buildah from scratch` + the root filesystem).
# 3. Builds the Containerfile. The image carries a hash of every input as its label
#    org.localvision.inputs; when localvision:latest already has that hash, nothing is rebuilt
#    (--force rebuilds anyway).
#
# What works on the project's machines, and is used here: buildah with the vfs storage driver
# and chroot isolation; podman as root with vfs, Debian's runc (crun 1.8 refuses the hosts'
# hybrid cgroups), cgroupfs and the file events backend. Docker needs none of it.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'build-image: [%3ss] %s\n' "$SECONDS" "$*" >&2; }
die() { say "error: $*"; exit 2; }

tag="localvision:latest"; base=""; force=0; weights=""; calibration=""; video=""
while [ $# -gt 0 ]; do
    case "$1" in
        --resnet18-weights) weights="$(realpath "$2")"; shift 2 ;;
        --calibration) calibration="$(realpath "$2")"; shift 2 ;;
        --with-video) video="--with-video"; shift ;;
        --base) base="$2"; shift 2 ;;
        --tag) tag="$2"; shift 2 ;;
        --force) force=1; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument $1 (see --help)" ;;
    esac
done
[ -z "$weights" ] || [ -f "$weights" ] || die "--resnet18-weights: no file $weights"
[ -z "$calibration" ] || [ -d "$calibration" ] || die "--calibration: no folder $calibration"

# --- the container tool -------------------------------------------------------------------
STORAGE=(--storage-driver vfs)
tool="${LOCALVISION_IMAGE_TOOL:-}"
if [ -z "$tool" ]; then
    if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then tool=docker
    elif command -v buildah >/dev/null 2>&1; then tool=buildah
    elif command -v podman >/dev/null 2>&1; then tool=podman
    else die "no container tool: install docker, podman or buildah (Debian: apt-get install buildah podman runc)"
    fi
fi
if [ "$tool" != docker ] && [ "$(id -u)" -ne 0 ]; then
    die "$tool runs here as root (vfs storage, chroot isolation); run this as root or with sudo"
fi
case "$tool" in
    docker) ctl=(docker) ;;
    buildah) ctl=(buildah "${STORAGE[@]}") ;;
    podman) ctl=(podman "${STORAGE[@]}" --runtime runc --cgroup-manager=cgroupfs --events-backend=file) ;;
    *) die "LOCALVISION_IMAGE_TOOL must be docker, buildah or podman, not $tool" ;;
esac
image_exists() { "${ctl[@]}" image inspect "$1" >/dev/null 2>&1 || { [ "$tool" = buildah ] && buildah "${STORAGE[@]}" inspect --type image "$1" >/dev/null 2>&1; }; }
label_of() {  # the inputs hash an image was built from
    case "$tool" in
        buildah) buildah "${STORAGE[@]}" inspect --type image --format '{{ index .OCIv1.Config.Labels "org.localvision.inputs" }}' "$1" 2>/dev/null ;;
        *) "${ctl[@]}" image inspect --format '{{ index .Config.Labels "org.localvision.inputs" }}' "$1" 2>/dev/null ;;
    esac
}
size_of() {
    case "$tool" in
        buildah) buildah "${STORAGE[@]}" images --format '{{.Size}}' "$1" ;;
        *) "${ctl[@]}" image inspect --format '{{.Size}}' "$1" | awk '{printf "%.0f MB", $1/1e6}' ;;
    esac
}

# --- Python for the staging step (needs torch: the models are exported before the build) ------
py="${LOCALVISION_PYTHON:-}"
if [ -z "$py" ]; then
    bash scripts/setup.sh
    py=.venv/bin/python
fi

# --- the base -----------------------------------------------------------------------------
cache="${LOCALVISION_CACHE:-/var/cache/localvision}"
DEBIAN_INCLUDE="python3,python3-venv,ca-certificates"
TRIM=3  # bump when the trimming below changes, so the cached tarball is made again
debian_base() {  # a bookworm root from debootstrap, trimmed, imported as an image; prints its name
    command -v debootstrap >/dev/null 2>&1 \
        || die "python:3.11-slim cannot be pulled and debootstrap is missing (apt-get install debootstrap)"
    mkdir -p "$cache"
    local raw="$cache/bookworm-minbase-$(echo "$DEBIAN_INCLUDE" | sha256sum | cut -c1-8).raw.tar"
    local tarball="$cache/bookworm-minbase-$(echo "$DEBIAN_INCLUDE $TRIM" | sha256sum | cut -c1-8).tar"
    local root
    if [ ! -f "$raw" ]; then
        say "debootstrap: Debian bookworm minbase with $DEBIAN_INCLUDE (a minute or two; cached in $raw)"
        root="$(mktemp -d "$cache/rootfs.XXXXXX")"
        debootstrap --variant=minbase --include="$DEBIAN_INCLUDE" bookworm "$root" >&2 \
            || { rm -rf "$root"; die "debootstrap failed"; }
        tar -C "$root" --numeric-owner -cf "$raw.tmp" . && mv "$raw.tmp" "$raw"
        rm -rf "$root"
    fi
    if [ ! -f "$tarball" ]; then
        root="$(mktemp -d "$cache/rootfs.XXXXXX")"
        tar -C "$root" --numeric-owner -xf "$raw"
        # Packages only installing software needs (apt, its TLS and signature libraries,
        # debconf, perl, e2fsprogs): nothing installs packages in the image. Purged with dpkg,
        # so its database stays true to what is there.
        chroot "$root" dpkg --purge --force-remove-essential --force-depends apt libapt-pkg6.0 \
            libgnutls30 libp11-kit0 libtasn1-6 libnettle8 libhogweed6 libidn2-0 libunistring2 gpgv \
            libdb5.3 e2fsprogs libext2fs2 libss2 libcom-err2 debconf perl-base >&2 \
            || { rm -rf "$root"; die "could not trim the Debian root"; }
        # What a server never reads: apt's package lists and downloaded .debs, docs, man pages,
        # translations, logs, compiled bytecode (Python writes none at run time here)
        rm -rf "$root"/var/cache/apt/* "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* \
               "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/lintian \
               "$root"/var/log/* "$root"/var/cache/debconf/*-old "$root"/usr/share/common-licenses
        # nor iconv's gconv modules (Python has its own codecs); zoneinfo's right/ is the
        # leap-second copy of the zones
        rm -rf "$root"/usr/lib/x86_64-linux-gnu/gconv "$root"/usr/share/zoneinfo/right
        find "$root"/usr/share/locale -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
        find "$root" -xdev -name __pycache__ -type d -prune -exec rm -rf {} +
        tar -C "$root" --numeric-owner -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
        rm -rf "$root"
    fi
    local name="localvision-base:bookworm-$(sha256sum "$tarball" | cut -c1-12)"
    if ! image_exists "$name"; then
        say "importing $tarball as $name"
        case "$tool" in
            buildah)
                local ctr mnt
                ctr="$(buildah "${STORAGE[@]}" from scratch)"
                mnt="$(buildah "${STORAGE[@]}" mount "$ctr")"
                tar -C "$mnt" --numeric-owner -xf "$tarball"
                buildah "${STORAGE[@]}" umount "$ctr" >/dev/null
                buildah "${STORAGE[@]}" config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
                    --env LANG=C.UTF-8 --cmd /bin/bash "$ctr"
                buildah "${STORAGE[@]}" commit --quiet --rm "$ctr" "$name" >/dev/null ;;
            podman|docker)
                "${ctl[@]}" import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
                    --change 'ENV LANG=C.UTF-8' "$tarball" "$name" >/dev/null ;;
        esac
    fi
    echo "$name"
}
pull_slim() {
    say "trying to pull python:3.11-slim"
    case "$tool" in
        docker) timeout 120 docker pull -q python:3.11-slim >/dev/null 2>&1 ;;
        *) timeout 60 "${ctl[@]}" pull -q docker.io/library/python:3.11-slim >/dev/null 2>&1 ;;
    esac
}
if [ -z "$base" ]; then
    if image_exists docker.io/library/python:3.11-slim || image_exists python:3.11-slim || pull_slim; then
        base=python:3.11-slim
    else
        say "no registry answers: the base is Debian bookworm from debootstrap"
        base="$(debian_base)"
    fi
fi

# --- skip when nothing changed -----------------------------------------------------------
inputs="$("$py" scripts/image/stage.py build/image --inputs-hash --base "$base" $video \
          ${weights:+--resnet18-weights "$weights"} ${calibration:+--calibration "$calibration"})"
if [ "$force" = 0 ] && image_exists "$tag" && [ "$(label_of "$tag")" = "$inputs" ]; then
    say "$tag is up to date (inputs ${inputs:0:12}); --force rebuilds it"
    exit 0
fi

# --- stage, then build --------------------------------------------------------------------
say "staging the models and the serving wheels (scripts/image/stage.py)"
"$py" scripts/image/stage.py build/image $video ${weights:+--resnet18-weights "$weights"} \
    ${calibration:+--calibration "$calibration"}
previous="$("${ctl[@]}" images -q "$tag" 2>/dev/null | head -1 || true)"
args=(-f Containerfile -t "$tag" --build-arg "BASE=$base" --build-arg "INPUTS=$inputs")
say "building $tag with $tool from $base"
case "$tool" in
    docker) DOCKER_BUILDKIT=1 docker build "${args[@]}" . ;;  # RUN --mount needs BuildKit
    # docker format: OCI image configs have no HEALTHCHECK
    buildah) buildah "${STORAGE[@]}" bud --isolation chroot --format docker "${args[@]}" . ;;
    podman) "${ctl[@]}" build --isolation chroot --format docker "${args[@]}" . ;;
esac
# What this build left behind: the build stage's image, and the image the tag named before
"${ctl[@]}" images -q --filter dangling=true --filter label=org.localvision.stage=build 2>/dev/null \
    | xargs -r "${ctl[@]}" rmi >/dev/null 2>&1 || true
if [ -n "$previous" ] && [ "$previous" != "$("${ctl[@]}" images -q "$tag" 2>/dev/null | head -1)" ]; then
    "${ctl[@]}" rmi "$previous" >/dev/null 2>&1 || true  # kept while a container still uses it
fi
say "built $tag ($(size_of "$tag") uncompressed)"
