"""Build hooks that pyproject.toml cannot express: copy the native libraries
into the package and mark the wheel as platform-specific.

Where the libraries come from (first match):
  $LRO_WHEEL_LIBRARY / $LRO_WHEEL_TESTING_LIBRARY   explicit paths
  <repo>/bazel-bin/lib/liblro.so.1 and .../lib/testing/liblro_testing.so.1
libprotobuf-c.so.1 (and any other library named in $LRO_WHEEL_BUNDLE,
colon-separated sonames) is taken from where the dynamic loader finds it.
"""
import os
import shutil
import subprocess

from setuptools import Distribution, setup
from setuptools.command.build_py import build_py

try:
    from wheel.bdist_wheel import bdist_wheel
except ImportError:  # building an sdist only
    bdist_wheel = None

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
BUNDLE = ["libprotobuf-c.so.1"]


def _found(env, default):
    p = os.environ.get(env) or default
    if not os.path.isfile(p):
        raise SystemExit("lro setup.py: %s not found; build it first (bazel build -c opt "
                         "//lib:liblro.so.1 //lib/testing:liblro_testing.so.1) or set %s"
                         % (p, env))
    return os.path.realpath(p)


def _system_lib(soname):
    """The path the dynamic loader resolves soname to (ldconfig's cache)."""
    out = subprocess.run(["/sbin/ldconfig", "-p"], stdout=subprocess.PIPE, text=True,
                         check=True).stdout
    for line in out.splitlines():
        left, sep, path = line.strip().partition(" => ")
        if sep and left.split()[0] == soname:
            return os.path.realpath(path)
    raise SystemExit("lro setup.py: %s is not installed (apt-get install libprotobuf-c1)" % soname)


class BuildWithLibs(build_py):
    def run(self):
        super().run()
        dst = os.path.join(self.build_lib, "lro", "_libs")
        os.makedirs(dst, exist_ok=True)
        libs = {
            "liblro.so.1": _found("LRO_WHEEL_LIBRARY",
                                  os.path.join(REPO, "bazel-bin/lib/liblro.so.1")),
            "liblro_testing.so.1": _found(
                "LRO_WHEEL_TESTING_LIBRARY",
                os.path.join(REPO, "bazel-bin/lib/testing/liblro_testing.so.1")),
        }
        extra = [s for s in os.environ.get("LRO_WHEEL_BUNDLE", "").split(":") if s]
        for soname in BUNDLE + extra:
            libs[soname] = _system_lib(soname)
        for name, src in libs.items():
            out = os.path.join(dst, name)
            shutil.copyfile(src, out)
            os.chmod(out, 0o755)


cmdclass = {"build_py": BuildWithLibs}

if bdist_wheel is not None:
    class PlatformWheel(bdist_wheel):
        """Native libraries inside: not a pure wheel. Any python 3 (ctypes,
        no extension module), this platform only."""

        def finalize_options(self):
            super().finalize_options()
            self.root_is_pure = False

        def get_tag(self):
            _, _, plat = super().get_tag()
            return "py3", "none", plat

    cmdclass["bdist_wheel"] = PlatformWheel

class NativeDistribution(Distribution):
    """Native libraries: the package goes to platlib, the wheel's root."""

    def has_ext_modules(self):
        return True


setup(cmdclass=cmdclass, distclass=NativeDistribution)
