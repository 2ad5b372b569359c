#!/usr/bin/env bash
# Set up everything the tests need on a fresh machine, then run the whole suite.
# Extra arguments go to pytest (e.g. -k api).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null 2>&1 || ! fc-list -q "WenQuanYi Micro Hei" 2>/dev/null \
    || ! command -v exiftool >/dev/null 2>&1; then
    # The browser tests drive Debian's Chromium (Playwright cannot download browsers offline),
    # and draw the Chinese UI with a system CJK font (the small WenQuanYi Micro Hei); the XMP
    # sidecar tests read what --write-xmp wrote with a real reader, exiftool.
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q chromium fonts-wqy-microhei \
        libimage-exiftool-perl
fi
if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    # The history, auth and hostile-input suites also run against a real PostgreSQL server that
    # the tests start themselves (tests/pgserver.py: initdb + pg_ctl in a temporary directory).
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q postgresql
fi
if ! command -v buildah >/dev/null 2>&1 || ! command -v podman >/dev/null 2>&1 \
        || ! command -v runc >/dev/null 2>&1 || ! command -v debootstrap >/dev/null 2>&1; then
    # tests/test_image.py builds the container image (buildah; debootstrap makes its base when
    # no registry answers) and runs it with podman on Debian's runc.
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q buildah podman runc debootstrap
fi
if ! /usr/bin/python3 -c "import gi; gi.require_version('GstRtspServer', '1.0')" 2>/dev/null \
    || ! /usr/bin/python3 -c "import gi; gi.require_version('Gst', '1.0'); from gi.repository import Gst; Gst.init(None); assert Gst.ElementFactory.find('x264enc')" 2>/dev/null; then
    # The video tests serve a real RTSP stream on loopback with GStreamer's RTSP server
    # (tests/rtspserver.py, run by the system Python where python3-gi lives).
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q python3-gi \
        gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good \
        gstreamer1.0-plugins-ugly gstreamer1.0-plugins-bad
fi
bash scripts/setup.sh test
exec .venv/bin/python -m pytest "$@"
