"""PyInstaller runtime hook: runs inside the frozen app before main.py.

- IMPASTO_LOG=FILE sends everything the app prints (stdout and stderr) to FILE, appended. A
  windowed build on Windows has no console (sys.stdout/sys.stderr are None), so this is how
  `Impasto.exe --selftest` and bug reports get their text out; the exit code works without it.
- A Linux build trimmed of CUDA's on-demand libraries (see tools/build_support.py) cannot run on
  an NVIDIA GPU: hide the GPUs so torch picks the CPU instead of failing at the first kernel.
"""


def _impasto_redirect_output():
    import os
    import sys

    path = os.environ.get("IMPASTO_LOG")
    if not path:
        return
    try:
        log = open(path, "a", encoding="utf-8", errors="backslashreplace", buffering=1)
    except OSError:
        return  # an unwritable log path must not stop the app
    sys.stdout = sys.stderr = log


def _impasto_cpu_only_build():
    import json
    import os
    import sys

    info_path = os.path.join(getattr(sys, "_MEIPASS", ""), "impasto-build.json")
    try:
        with open(info_path, encoding="utf-8") as file:
            info = json.load(file)
    except (OSError, ValueError):
        return
    if info.get("cuda_trimmed"):
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
        os.environ["IMPASTO_CPU_ONLY_BUILD"] = "1"  # so asking for CUDA says why it is missing


_impasto_redirect_output()
_impasto_cpu_only_build()
del _impasto_redirect_output, _impasto_cpu_only_build
