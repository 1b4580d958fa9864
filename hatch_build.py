"""Hatch build hook: build the Go shared library and put it into the wheel.

``pip install .`` runs this before the wheel is assembled. It calls ``bash build.sh lib``,
which compiles ``capi/`` with ``go build -buildmode=c-shared`` into
``python/gonmf/libgonmf.so``. The library is gitignored, so it is force-included, and the
wheel is tagged ``py3-none-<platform>``: platform specific, Python-version independent.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sysconfig
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

LIB_NAME = "libgonmf.so"


def _platform_tag() -> str:
    return sysconfig.get_platform().replace("-", "_").replace(".", "_")


class GoBuildHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel":
            return
        root = Path(self.root)
        lib = root / "python" / "gonmf" / LIB_NAME

        prebuilt = os.environ.get("GONMF_PREBUILT_LIBRARY")
        if prebuilt:
            # Escape hatch for packagers: use a library built elsewhere.
            shutil.copyfile(prebuilt, lib)
        else:
            self._build(root)

        if not lib.is_file():
            raise RuntimeError(f"gonmf: the Go build finished but {lib} does not exist")

        build_data["pure_python"] = False
        # The library is loaded with ctypes, not as a CPython extension: the wheel depends
        # on the platform only, so one wheel serves every Python 3 version.
        build_data["tag"] = f"py3-none-{_platform_tag()}"
        if version != "editable":
            # An editable install imports python/gonmf in place, where the library already is.
            build_data["force_include"][str(lib)] = f"gonmf/{LIB_NAME}"

    def _build(self, root: Path) -> None:
        if shutil.which("go") is None:
            raise RuntimeError(
                "gonmf: building the native engine needs the Go toolchain (go >= 1.26), "
                "and `go` was not found on PATH. Install Go from https://go.dev/dl/ and "
                "retry, or set GONMF_PREBUILT_LIBRARY to an existing libgonmf.so."
            )
        if shutil.which("bash") is None:
            raise RuntimeError("gonmf: building the native engine needs bash on PATH")
        self.app.display_info("gonmf: building the Go library (bash build.sh lib)")
        env = dict(os.environ)
        # The build output lands in the package directory that the wheel is made from.
        env.pop("GONMF_LIB_OUT", None)
        result = subprocess.run(
            ["bash", str(root / "build.sh"), "lib"],
            cwd=root,
            env=env,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"gonmf: `bash build.sh lib` failed with exit code {result.returncode} "
                "(see the Go compiler output above)"
            )
