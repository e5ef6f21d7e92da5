"""Helpers for build.spec (PyInstaller): what to trim, macOS Info.plist, Windows version info,
and the build-info file the runtime hook reads. Plain Python, no PyInstaller import, so the
fast tests can check every rule here without building.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
from pathlib import Path

APP_NAME = "Impasto"
BUNDLE_ID = "org.impasto.Impasto"
BUILD_INFO_FILE = "impasto-build.json"  # at the top of the bundle (sys._MEIPASS)
ROOT = Path(__file__).resolve().parent.parent

# Linux torch wheels bring the CUDA libraries. These are never linked at start-up; torch (or
# cuDNN's loader) opens them only when a GPU kernel needs them, so a CPU-only build runs
# without them. Everything named by libtorch_cuda.so's NEEDED entries stays, or torch would
# not import at all (cublas/cublasLt, cufft, curand, cusparse + nvJitLink, nccl, nvrtc, ...).
CUDA_ON_DEMAND = [
    "nvidia/cudnn/lib/libcudnn_*.so*",  # cuDNN's engines/kernels; libcudnn.so.9 (the loader) stays
    "nvidia/*/lib/libcusolver*.so*",  # dense/sparse solvers: only libtorch_cuda_linalg uses them
    "torch/lib/libtorch_cuda_linalg.so",  # torch.linalg on CUDA, opened on first use
    "nvidia/*/lib/libnvrtc.alt.so*",  # the alternative NVRTC build
    "nvidia/*/lib/libnvrtc-builtins*.so*",  # loaded by NVRTC when it compiles a kernel
    "nvidia/*/lib/libnvperf_*.so*",  # profiler add-ons (libcupti itself is linked: it stays)
    "nvidia/*/lib/libpcsamplingutil.so*",
    "nvidia/*/lib/libcheckpoint.so*",
    "nvidia/*/lib/libnvblas.so*",
    "nvidia/*/lib/libcufftw.so*",
    "nvidia/*/lib/libcufile_rdma.so*",
    "nvidia/nvshmem/lib/nvshmem_*.so*",  # nvshmem's network bootstrap/transport plug-ins
]

# torch imports two modules of its own test helpers at start-up; the rest is test suites.
TORCH_TEST_PACKAGE = "torch.testing._internal"
TORCH_TEST_MODULES_KEPT = {"torch.testing._internal.logging_tensor", "torch.testing._internal.common_dtype"}


def read_version(root: Path = ROOT) -> str:
    """engine.__version__, read from the source (importing engine in the spec is not needed)."""
    text = (root / "engine" / "__init__.py").read_text(encoding="utf-8")
    match = re.search(r'^__version__\s*=\s*["\']([^"\']+)["\']', text, re.MULTILINE)
    if not match:
        raise ValueError("engine/__init__.py has no __version__")
    return match.group(1)


def version_tuple(version: str) -> tuple[int, int, int, int]:
    """'1.2.3' or '1.2.3rc1' -> (1, 2, 3, 0): the four numbers Windows wants."""
    numbers = [int(re.match(r"\d*", part).group() or 0) for part in version.split(".")[:4]]
    return tuple((numbers + [0, 0, 0, 0])[:4])


def keep_cuda() -> bool:
    """IMPASTO_BUILD_CUDA=1 keeps every CUDA library (a Linux build that can use an NVIDIA GPU)."""
    return os.environ.get("IMPASTO_BUILD_CUDA", "").strip().lower() in ("1", "true", "yes")


def is_on_demand_cuda(dest_name: str) -> bool:
    path = dest_name.replace("\\", "/")
    return any(fnmatch.fnmatch(path, pattern) for pattern in CUDA_ON_DEMAND)


def nvrtc_builtins() -> list[tuple[str, str]]:
    """(source, dest folder) of NVRTC's builtins library: NVRTC opens it by name when it compiles a
    kernel at run time, so PyInstaller's dependency analysis never sees it. For CUDA builds."""
    import importlib.util

    spec = importlib.util.find_spec("nvidia")
    if spec is None or not spec.submodule_search_locations:
        return []
    found = []
    for root in map(Path, spec.submodule_search_locations):
        for path in sorted(root.glob("*/lib/libnvrtc-builtins.so*")):
            if ".alt." not in path.name:
                found.append((str(path), path.parent.relative_to(root.parent).as_posix()))
    return found


def trim_cuda(toc: list) -> tuple[list, list]:
    """Split a TOC of (dest_name, src_name, typecode) into (kept, removed). PyInstaller also
    lists links at the top of the bundle to libraries in subfolders, as (link name, target,
    "SYMLINK") data entries: a link to a removed library goes too."""
    kept, removed = [], []
    for entry in toc:
        dest, src, typecode = entry[:3]
        trimmed = is_on_demand_cuda(dest) or (typecode == "SYMLINK" and is_on_demand_cuda(src))
        (removed if trimmed else kept).append(entry)
    return kept, removed


def is_test_module(name: str) -> bool:
    """Test suites and test helpers the app never imports."""
    parts = name.split(".")
    if "tests" in parts or "test" in parts:
        return True
    if name == TORCH_TEST_PACKAGE or name in TORCH_TEST_MODULES_KEPT:
        return False
    return name.startswith(TORCH_TEST_PACKAGE + ".")


def drop_test_modules(toc: list) -> tuple[list, list]:
    """Split a pure-modules TOC of (module_name, path, typecode) into (kept, removed)."""
    kept, removed = [], []
    for entry in toc:
        (removed if is_test_module(entry[0]) else kept).append(entry)
    return kept, removed


def is_test_data(dest_name: str) -> bool:
    """Source copies (torch is collected as .pyc + .py) of the test modules dropped above."""
    path = dest_name.replace("\\", "/")
    if not path.endswith(".py"):
        return False
    return is_test_module(path[: -len(".py")].replace("/", ".").removesuffix(".__init__"))


def total_size(toc: list) -> int:
    """Bytes of the source files of a TOC (what they will take in dist/)."""
    return sum(os.path.getsize(src) for _, src, typecode in toc if typecode != "SYMLINK" and os.path.isfile(src))


def build_info(version: str, cuda_trimmed: bool, platform: str) -> dict:
    return {"app": APP_NAME, "version": version, "platform": platform, "cuda_trimmed": cuda_trimmed}


def write_build_info(folder: str, info: dict) -> str:
    path = os.path.join(folder, BUILD_INFO_FILE)
    with open(path, "w", encoding="utf-8") as file:
        json.dump(info, file, indent=2)
    return path


IMAGE_TYPES = ["public.png", "public.jpeg", "public.tiff", "org.webmproject.webp", "public.image"]


def info_plist(version: str) -> dict:
    """macOS Info.plist entries (PyInstaller fills in the executable, icon and bundle id)."""
    return {
        "CFBundleName": APP_NAME,
        "CFBundleDisplayName": APP_NAME,
        "CFBundleIdentifier": BUNDLE_ID,
        "CFBundleShortVersionString": version,
        "CFBundleVersion": version,
        "NSHighResolutionCapable": True,
        "NSRequiresAquaSystemAppearance": False,  # follow the system's dark mode
        "LSMinimumSystemVersion": "11.0",
        "LSApplicationCategoryType": "public.app-category.graphics-design",
        "NSHumanReadableCopyright": "Impasto contributors, MIT licence",
        "CFBundleDocumentTypes": [
            {
                "CFBundleTypeName": "Image",
                "CFBundleTypeRole": "Viewer",
                "LSHandlerRank": "Alternate",
                "LSItemContentTypes": IMAGE_TYPES,
            }
        ],
    }


def windows_version_info(version: str) -> str:
    """The text of a VSVersionInfo, in the format PyInstaller's EXE(version=FILE) reads."""
    numbers = version_tuple(version)
    strings = {
        "CompanyName": "Impasto contributors",
        "FileDescription": "Impasto - neural style transfer studio",
        "FileVersion": version,
        "InternalName": APP_NAME,
        "LegalCopyright": "MIT licence",
        "OriginalFilename": f"{APP_NAME}.exe",
        "ProductName": APP_NAME,
        "ProductVersion": version,
    }
    string_structs = ",\n".join(f"          StringStruct({k!r}, {v!r})" for k, v in strings.items())
    return f"""# UTF-8
VSVersionInfo(
  ffi=FixedFileInfo(
    filevers={numbers},
    prodvers={numbers},
    mask=0x3f,
    flags=0x0,
    OS=0x40004,
    fileType=0x1,
    subtype=0x0,
    date=(0, 0)
  ),
  kids=[
    StringFileInfo([
      StringTable('040904B0', [
{string_structs}
      ])
    ]),
    VarFileInfo([VarStruct('Translation', [1033, 1200])])
  ]
)
"""


def write_windows_version_info(folder: str, version: str) -> str:
    path = os.path.join(folder, "impasto_version_info.txt")
    with open(path, "w", encoding="utf-8") as file:
        file.write(windows_version_info(version))
    return path
