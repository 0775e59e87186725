"""Hostile files and names: pickles that would run code, path traversal in names, no shell anywhere.

Each malicious payload is first shown to be live (the unsafe loader really runs it), so "nothing ran"
means the engine refused it, not that the payload was a dud.
"""

from __future__ import annotations

import ast
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

import ssl_core
from ssl_core.config import RunConfig
from ssl_core.data import open_source
from ssl_core.errors import UserError
from ssl_core.runs.run_id import safe_child
from ssl_core.runs.store import export_backbone, list_runs, load_run

GROUP = "Security"
pytestmark = pytest.mark.timeout(90)

PACKAGE = Path(ssl_core.__file__).parent


class Payload:
    """Unpickling this runs code: it writes `marker` (a real exploit would do anything else)."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').write('code ran')",))


@pytest.fixture
def data(tmp_path) -> Path:
    path = tmp_path / "small.npz"
    np.savez(
        path,
        images=np.random.default_rng(0).integers(0, 256, (40, 8, 8), dtype=np.uint8),
        labels=np.arange(40) % 4,
    )
    return path


@pytest.fixture
def finished_run(tmp_path, cli, tiny_train, data) -> Path:
    runs = tmp_path / "runs"
    result = cli.run(
        "train",
        *tiny_train,
        "--data",
        f"npz:{data}",
        "--batch-size",
        "16",
        "--epochs",
        "1",
        "--runs-dir",
        runs,
    )
    assert result.code == 0, result.err
    return next(p for p in runs.iterdir() if p.is_dir())


def _eval_registered() -> bool:
    from ssl_core.cli.main import build_parser

    return "eval" in build_parser()._subparsers._group_actions[0].choices


# ---- pickles --------------------------------------------------------------------------------------
def test_malicious_checkpoint(case, tmp_path, cli, finished_run):
    marker = tmp_path / "PWNED-checkpoint"
    entry_points = ["ssl-core resume", "load_run", "export_backbone"] + (
        ["ssl-core eval"] if _eval_registered() else []
    )
    case.describe(
        "a run whose checkpoints/last.pt is replaced by a pickle that runs code when unpickled (exec payload)",
        f"{', '.join(entry_points)} refuse it ('cannot be loaded safely'); the code never runs",
    )
    checkpoint = finished_run / "checkpoints" / "last.pt"
    good = torch.load(checkpoint, weights_only=True)
    good["model"]["evil"] = Payload(marker)
    torch.save(good, checkpoint)

    line = cli.assert_failed_run(
        cli.run("resume", finished_run, "--quiet"), str(checkpoint), "cannot be loaded safely"
    )
    with pytest.raises(UserError, match="cannot be loaded safely"):
        load_run(finished_run)
    with pytest.raises(UserError, match="cannot be loaded safely"):
        export_backbone(finished_run, tmp_path / "out.pt")
    if _eval_registered():
        cli.assert_refused(cli.run("eval", finished_run, "--quiet"), "cannot be loaded safely")
    assert [r.run_id for r in list_runs(finished_run.parent)] == [finished_run.name]
    assert not marker.exists(), "the payload ran"
    torch.load(checkpoint, weights_only=False)  # proof the payload is live: the unsafe loader runs it
    assert marker.read_text() == "code ran"
    case.observe(f"{line.replace(str(tmp_path), 'TMP')} | marker absent after all entry points; "
                 "torch.load(weights_only=False) does run it")  # fmt: skip


@pytest.mark.parametrize("kind", ["npy-object-array", "npz-member", "raw-pickle-named-npy"])
def test_malicious_array_file(case, tmp_path, cli, tiny_train, kind):
    marker = tmp_path / f"PWNED-{kind}"
    case.describe(
        {
            "npy-object-array": "an .npy holding an object array whose element runs code when unpickled",
            "npz-member": "an .npz whose 'images' member is such an object array",
            "raw-pickle-named-npy": "a plain pickle of the payload saved under the name data.npy",
        }[kind],
        "open_source and `ssl-core train --data` refuse it in one line; the code never runs",
    )
    payload = np.empty(1, dtype=object)
    payload[0] = Payload(marker)
    if kind == "npy-object-array":
        path = tmp_path / "data.npy"
        np.save(path, payload, allow_pickle=True)
        unsafe = lambda: np.load(path, allow_pickle=True)  # noqa: E731
    elif kind == "npz-member":
        path = tmp_path / "data.npz"
        np.savez(path, images=payload)
        unsafe = lambda: np.load(path, allow_pickle=True)["images"]  # noqa: E731
    else:
        path = tmp_path / "data.npy"
        path.write_bytes(pickle.dumps(Payload(marker)))
        unsafe = lambda: np.load(path, allow_pickle=True)  # noqa: E731
    spec = f"{path.suffix.lstrip('.')}:{path}"
    with pytest.raises(UserError) as info:
        open_source(spec)
    message = str(info.value)
    assert str(path) in message and ("dtype=object" in message or "pickled files are not loaded" in message)
    line = cli.assert_refused(
        cli.run("train", *tiny_train, "--data", spec, "--runs-dir", tmp_path / "runs"), str(path)
    )
    assert not marker.exists(), "the payload ran"
    unsafe()
    assert marker.exists()  # proof the payload is live
    case.observe(
        f"{line.replace(str(tmp_path), 'TMP')} | marker absent; np.load(allow_pickle=True) does run it"
    )


def test_pickle_disguised_as_an_image(case, tmp_path):
    marker = tmp_path / "PWNED-image"
    case.describe(
        "a pickle payload saved as photo.png among real images", "skipped as 'not an image'; nothing runs"
    )
    from PIL import Image

    root = tmp_path / "imgs"
    root.mkdir()
    for i in range(3):
        Image.fromarray(np.full((8, 8), 40 * i, np.uint8)).save(root / f"{i}.png")
    (root / "photo.png").write_bytes(pickle.dumps(Payload(marker)))
    source = open_source(f"folder:{root}")
    reasons = {Path(s.path).name: s.reason for s in source.info.skipped}
    assert source.info.size == 3 and "not an image" in reasons["photo.png"] and not marker.exists()
    case.observe(f"3 loaded; photo.png skipped: {reasons['photo.png']}")


def test_config_files_are_data_not_code(case, tmp_path, cli, tiny_train, data):
    marker = tmp_path / "PWNED-config"
    code = f"__import__('os').system('touch {marker}')"
    case.describe(
        f"a TOML config whose name is {code!r}, a YAML-style '!!python/object/apply' config, and --set of code",
        "the TOML string stays a string (slugged into the run id); the YAML tag is invalid TOML; "
        "the --set value is refused as not an int; nothing runs",
    )
    config = tmp_path / "c.toml"
    config.write_text(
        f'name = "{code}"\n[data]\nspec = "npz:{data}"\n[train]\nmax_steps = 1\nbatch_size = 16\n'
    )
    loaded = RunConfig.load(config)
    assert loaded.name == code
    result = cli.run("train", *tiny_train, "--config", config, "--runs-dir", tmp_path / "runs")
    assert result.code == 0, result.err
    run_dir = Path(result.out.strip().splitlines()[-1])
    assert run_dir.parent == tmp_path / "runs" and set(run_dir.name) <= set(
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"
    )
    yaml = tmp_path / "y.toml"
    yaml.write_text(f'name: !!python/object/apply:os.system ["touch {marker}"]\n')
    line = cli.assert_refused(cli.run("train", "--config", yaml), "not valid TOML")
    line2 = cli.assert_refused(cli.run("train", "--set", f"train.epochs={code}"), "train.epochs must be int")
    assert not marker.exists()
    case.observe(
        f"run id {run_dir.name!r} | {line.replace(str(tmp_path), 'TMP')} | {line2.replace(str(tmp_path), 'TMP')[:160]}"
    )


# ---- static checks of the engine's source ---------------------------------------------------------
def _calls(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            yield node


def _name(func: ast.expr) -> str:
    parts = []
    while isinstance(func, ast.Attribute):
        parts.append(func.attr)
        func = func.value
    if isinstance(func, ast.Name):
        parts.append(func.id)
    return ".".join(reversed(parts))


def _keyword(call: ast.Call, name: str):
    for kw in call.keywords:
        if kw.arg == name:
            return kw.value.value if isinstance(kw.value, ast.Constant) else "<expression>"
    return "<missing>"


FORBIDDEN_CALLS = {
    "eval", "exec", "compile", "os.system", "os.popen", "os.execv", "os.execvp", "os.execl", "os.spawnv",
    "os.spawnl", "pickle.load", "pickle.loads", "marshal.load", "marshal.loads", "yaml.load", "torch.hub.load",
    "shelve.open", "subprocess.run", "subprocess.Popen", "subprocess.call", "subprocess.check_call",
    "subprocess.check_output",
}  # fmt: skip
FORBIDDEN_IMPORTS = {"subprocess", "marshal", "shelve", "yaml", "dill", "cloudpickle"}
UNPICKLERS = {
    "load",
    "loads",
    "Unpickler",
}  # `import pickle` is fine (for its exception types); these are not


def test_engine_source_has_no_unsafe_loaders_or_shell(case):
    case.describe(
        "an AST scan of every .py file in ssl_core/",
        "no shell or subprocess, no eval/exec, no pickle/yaml/marshal loaders; every torch.load passes "
        "weights_only=True and every np.load allow_pickle=False; configs are read with tomllib",
    )
    problems, torch_loads, np_loads, files = [], 0, 0, 0
    for path in sorted(PACKAGE.rglob("*.py")):
        files += 1
        where = path.relative_to(PACKAGE.parent)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                problems += [
                    f"{where}:{node.lineno} imports {n}"
                    for n in names
                    if n.split(".")[0] in FORBIDDEN_IMPORTS
                ]
                if isinstance(node, ast.ImportFrom) and node.module == "pickle":
                    problems += [
                        f"{where}:{node.lineno} imports pickle.{a.name}"
                        for a in node.names
                        if a.name in UNPICKLERS
                    ]
        for call in _calls(tree):
            name = _name(call.func)
            if name in FORBIDDEN_CALLS:
                problems.append(f"{where}:{call.lineno} calls {name}")
            if any(kw.arg == "shell" for kw in call.keywords):
                problems.append(f"{where}:{call.lineno} passes shell=")
            if name == "torch.load":
                torch_loads += 1
                if _keyword(call, "weights_only") is not True:
                    problems.append(f"{where}:{call.lineno} torch.load without weights_only=True")
            if name in ("np.load", "numpy.load"):
                np_loads += 1
                if _keyword(call, "allow_pickle") is not False:
                    problems.append(f"{where}:{call.lineno} np.load without allow_pickle=False")
    config_source = (PACKAGE / "config.py").read_text()
    assert "tomllib.loads" in config_source
    assert not problems, problems
    assert torch_loads >= 1 and np_loads >= 1
    case.observe(f"{files} files: no shell, subprocess, eval/exec or pickle loaders; {torch_loads} torch.load "
                 f"call(s) all weights_only=True; {np_loads} np.load call(s) all allow_pickle=False")  # fmt: skip


# ---- paths ----------------------------------------------------------------------------------------
TRAVERSAL_NAMES = [
    "../../escape",
    "..",
    "/etc/cron.d/evil",
    "a/../../b",
    "..\\..\\windows",
    "nul\x00byte",
    "~root",
]


def test_run_names_cannot_leave_the_runs_folder(case, tmp_path, cli, tiny_train, data):
    case.describe(
        f"`ssl-core train --name N` for N in {TRAVERSAL_NAMES!r}, and a data folder spelled '.../imgs/sub/..'",
        "every run folder is a direct child of runs_dir with a name of letters, digits, '.', '_', '-'; "
        "nothing is written outside runs_dir",
    )
    runs = tmp_path / "runs"
    before = {p for p in tmp_path.rglob("*") if runs not in p.parents}
    made = []
    for name in TRAVERSAL_NAMES:
        result = cli.run("train", *tiny_train, "--data", f"npz:{data}", "--batch-size", "16", "--max-steps", "1",
                         "--name", name, "--runs-dir", runs)  # fmt: skip
        assert result.code == 0, result.err
        made.append(Path(result.out.strip().splitlines()[-1]))
    from PIL import Image

    (tmp_path / "imgs" / "sub").mkdir(parents=True)
    for i in range(4):
        Image.fromarray(np.full((8, 8), 50 * i, np.uint8)).save(tmp_path / "imgs" / f"{i}.png")
    result = cli.run("train", *tiny_train, "--data", f"folder:{tmp_path / 'imgs' / 'sub' / '..'}", "--batch-size", "2",
                     "--max-steps", "1", "--runs-dir", runs)  # fmt: skip
    assert result.code == 0, result.err
    made.append(Path(result.out.strip().splitlines()[-1]))
    allowed = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
    for run_dir in made:
        assert run_dir.resolve().parent == runs.resolve() and set(run_dir.name) <= allowed, run_dir
    after = {p for p in tmp_path.rglob("*") if runs not in p.parents and p != runs}
    assert after - before <= {tmp_path / "imgs", tmp_path / "imgs" / "sub"} | {
        tmp_path / "imgs" / f"{i}.png" for i in range(4)
    }
    case.observe("run folders: " + ", ".join(p.name.split("-", 2)[-1] for p in made))


def test_safe_child_refuses_escaping_names(case, tmp_path):
    bad = ["..", ".", "", "../x", "a/b", "/abs", "a\\b", "x\x00y", "sp ace", "new\nline"]
    case.describe(
        f"safe_child(runs_dir, name) for {bad!r}",
        "each refused with 'not a valid run id'; a normal id is accepted",
    )
    for name in bad:
        with pytest.raises(UserError, match="not a valid run id"):
            safe_child(tmp_path, name)
    ok = safe_child(tmp_path, "20250101-120000-simclr-digits")
    assert ok.parent == tmp_path.resolve()
    case.observe(f"{len(bad)} names refused; '20250101-120000-simclr-digits' accepted")


def test_exports_stay_in_their_folders(case, tmp_path, cli, finished_run):
    case.describe(
        "export_backbone into a folder; `ssl-core embed` (when registered) writing its arrays",
        "the export lands directly in the chosen folder; every embed output is inside RUN/eval/",
    )
    out_dir = tmp_path / "exports"
    out_dir.mkdir()
    exported = export_backbone(finished_run, out_dir)
    assert exported.parent == out_dir and exported.name == f"{finished_run.name}-backbone.pt"
    observed = f"export: {exported.name} in exports/"
    if _eval_registered():
        result = cli.run("embed", finished_run, "--projection", "pca", "--quiet", "--json")
        assert result.code == 0, result.err
        import json

        paths = [Path(p) for p in json.loads(result.out)["paths"].values()]
        eval_dir = (finished_run / "eval").resolve()
        assert paths and all(p.resolve().parent == eval_dir for p in paths), paths
        observed += f"; embed: {len(paths)} files, all in RUN/eval/"
    case.observe(observed)
