#!/bin/sh
# Trim the image's venv to what serving uses (run in the Containerfile's build stage).
# Each line says what it removes and why that is safe.
set -eu
venv="$1"
site="$(echo "$venv"/lib/python3*/site-packages)"
# pip, setuptools: nothing is installed at run time
"$venv/bin/pip" uninstall --yes --quiet pip setuptools 2>/dev/null || true
rm -rf "$site"/pip "$site"/setuptools "$site"/_distutils_hack "$site"/pkg_resources
ov="$site/openvino"
# OpenVINO: the CPU plugin and the IR reader serve; GPU/NPU plugins, the other frontends
# (ONNX, TF, TFLite, Paddle, PyTorch, JAX, GGUF), their kernel cache and the C headers do not.
rm -f "$ov"/libs/libopenvino_intel_gpu_plugin.so "$ov"/libs/libopenvino_intel_npu_plugin.so \
      "$ov"/libs/cache.json
for f in "$ov"/libs/libopenvino_*_frontend.so.*; do
    case "$f" in *_ir_frontend.so.*) ;; *) rm -f "$f" ;; esac
done
rm -rf "$ov"/include "$ov"/tools
# tests, type stubs, caches: never imported when serving
find "$site" -depth -type d \( -name tests -o -name __pycache__ \) -exec rm -rf {} +
find "$site" \( -name '*.pyi' -o -name '*.pxd' -o -name '*.h' -o -name '*.c' \) -type f -delete
# numpy's f2py and distutils build Fortran/C extensions; a server never does
rm -rf "$site"/numpy/f2py "$site"/numpy/distutils "$site"/numpy/_pyinstaller
