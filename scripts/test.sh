#!/usr/bin/env bash
# Set up everything the tests need on a fresh machine, then run the whole suite.
# Extra arguments go to pytest (e.g. -k api).
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the suites use for real (no mock stands in for them); each is installed only
# when its check fails, all in one apt-get run.
missing=()
need() {  # need CHECK PACKAGE...: the packages, when the shell command CHECK fails
    local check="$1"; shift
    eval "$check" >/dev/null 2>&1 || missing+=("$@")
}
# The browser tests drive Debian's Chromium (Playwright cannot download browsers offline) and
# draw the Chinese UI with a system CJK font (the small WenQuanYi Micro Hei).
need "command -v chromium" chromium
need "fc-list -q 'WenQuanYi Micro Hei'" fonts-wqy-microhei
# The XMP sidecar tests read what --write-xmp wrote with a real reader.
need "command -v exiftool" libimage-exiftool-perl
# The history, auth and hostile-input suites also run against a real PostgreSQL server that the
# tests start themselves (tests/pgserver.py: initdb + pg_ctl in a temporary directory).
need "command -v initdb || ls /usr/lib/postgresql/*/bin/initdb" postgresql
# tests/test_image.py builds the container image (buildah; debootstrap makes its base when no
# registry answers) and runs it with podman on Debian's runc.
need "command -v buildah && command -v podman && command -v runc && command -v debootstrap" \
    buildah podman runc debootstrap
# The video tests serve a real RTSP stream on loopback with GStreamer's RTSP server
# (tests/rtspserver.py, run by the system Python where python3-gi lives).
need "/usr/bin/python3 -c \"import gi; gi.require_version('GstRtspServer', '1.0'); \
gi.require_version('Gst', '1.0'); from gi.repository import Gst; Gst.init(None); \
assert Gst.ElementFactory.find('x264enc')\"" \
    python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good \
    gstreamer1.0-plugins-ugly gstreamer1.0-plugins-bad
if [ "${#missing[@]}" -gt 0 ]; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    echo "test: installing Debian packages: ${missing[*]}" >&2
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${missing[@]}"
fi
bash scripts/setup.sh test
exec .venv/bin/python -m pytest "$@"
