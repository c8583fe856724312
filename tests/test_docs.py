"""Every command and code block of README.md and docs/ is run here (at smoke size), so the pages
cannot drift from the toolkit: Python blocks are executed, a block that defines tests is run by
pytest with the plugin, shell commands run as written with the suite and output folder
substituted (or, for the installation and whole-test-suite commands, are checked to be what CI
runs), the command-line synopsis is checked against ``--help`` both ways, TOML blocks parse, the
layout names every package, links resolve, and the README stays under 8 KB."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import pathlib
import re
import shlex
import shutil
import subprocess
import sys

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = pathlib.Path(__file__).resolve().parents[1]
PAGES = (ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")))
CI = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
LANGUAGES = ("bash", "python", "toml", "text")
#: The toolkit's command (as ``python -m bounds``, which the pages say is the same).
CLI = (sys.executable, "-m", "bounds")
#: Producers and a figure cheap enough for the smoke runs of the pages' commands.
SMOKE_ONLY = ("formula",)


@dataclasses.dataclass(frozen=True)
class Block:
    page: pathlib.Path
    line: int
    language: str
    body: str

    @property
    def name(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"

    @property
    def defines_tests(self) -> bool:
        return self.language == "python" and re.search(r"^def test_", self.body, re.M) is not None


def blocks(page: pathlib.Path) -> list[Block]:
    text = page.read_text(encoding="utf-8")
    return [Block(page, text.count("\n", 0, m.start()) + 1, m.group(1), m.group(2))
            for m in re.finditer(r"^```(\w*)\n(.*?)^```", text, re.M | re.S)]


ALL = [b for page in PAGES for b in blocks(page)]
COMMANDS = [(b, line) for b in ALL if b.language == "bash" for line in b.body.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


PYTHON = [b for b in ALL if b.language == "python" and not b.defines_tests]
TESTS = [b for b in ALL if b.defines_tests]


def test_every_block_has_a_known_language():
    assert [b.name for b in ALL if b.language not in LANGUAGES] == []


def test_readme_is_short():
    assert len((ROOT / "README.md").read_bytes()) <= 8 * 1024


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_links_resolve(page):
    text = page.read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
    missing = [t for t in targets if "://" not in t and not (page.parent / t).exists()]
    assert missing == []


def test_no_development_history_in_the_tree():
    """Files speak of the toolkit and the paper, never of how it was developed (pytest's own
    fixture scope ``scope="session"`` is not such a word). The tracked files: a virtual
    environment or a results folder beside them is the user's, not the tree."""
    listed = subprocess.run(["git", "ls-files", "--cached"], cwd=ROOT,
                            capture_output=True, text=True)
    if listed.returncode != 0:
        pytest.skip("not a git checkout")
    pattern = re.compile(r"stop [0-9]|issue ?[0-9]|" r"sessi" r"on", re.I)  # split: this line is not a hit
    hits = []
    for name in listed.stdout.splitlines():
        path = ROOT / name
        if not path.is_file() or path.suffix in (".png", ".pdf"):
            continue
        for i, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if pattern.search(line.replace('scope="session"', "")):
                hits.append(f"{name}:{i}: {line.strip()[:100]}")
    assert hits == []


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    """A smoke run of ``verify`` in a folder ``results``, as the pages' Python blocks read it."""
    cwd = tmp_path_factory.mktemp("docs")
    run = subprocess.run([*CLI, "verify", "--suite", "smoke", "--only", *SMOKE_ONLY, "--no-figures", "--jobs", "1",
                          "--out", "results"], cwd=cwd, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    return cwd


@pytest.mark.parametrize("block", PYTHON, ids=[b.name for b in PYTHON])
def test_python_block_runs(block, smoke_run, monkeypatch):
    monkeypatch.chdir(smoke_run)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(block.body, block.name, "exec"), {"__name__": "__docs__"})
    assert out.getvalue().strip(), "a block in the pages shows its reader some output"


def _pytest_files(block: Block) -> tuple[str, list[str]]:
    """The file name a test block is saved as (named by a command of its page, else
    ``test_<page>.py``) and the commands of its page that run it."""
    commands = [line for b, line in COMMANDS if b.page == block.page and "pytest" in line and ".py" in line]
    named = [w for line in commands for w in shlex.split(line) if w.endswith(".py")]
    return (named[0] if named else f"test_{block.page.stem.lower()}.py"), commands


@pytest.mark.parametrize("block", TESTS, ids=[b.name for b in TESTS])
def test_test_block_passes_with_the_plugin(block, tmp_path):
    """The page's tests, with its TOML (the pytest ini) and its pytest command; the plugin is
    loaded by name with installed plugins off, which works whether or not its entry point is
    registered in this environment."""
    name, commands = _pytest_files(block)
    (tmp_path / name).write_text(block.body, encoding="utf-8")
    for toml in (b for b in ALL if b.page == block.page and b.language == "toml" and "pytest" in b.body):
        (tmp_path / "pyproject.toml").write_text(toml.body, encoding="utf-8")
    args = shlex.split(commands[0])[3:] if commands else [name]  # after "python -m pytest"
    env = {**os.environ, **_compilation_cache(), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    run = subprocess.run([sys.executable, "-m", "pytest", "-p", "bounds.testing.plugin", "-p", "no:cacheprovider",
                          "-o", "dssl_float64=true", *args], cwd=tmp_path, capture_output=True, text=True, env=env)
    assert run.returncode == 0, run.stdout[-3000:]
    assert "claim x reading verdicts" in run.stdout


def _compilation_cache() -> dict[str, str]:
    """This process's persistent compilation cache (conftest.py), for a pytest subprocess: the
    pages' tests measure what the Python blocks measure, and compile it once."""
    import jax

    folder = jax.config.jax_compilation_cache_dir
    return {"JAX_COMPILATION_CACHE_DIR": folder, "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0"} if folder else {}


def _ci(command: str) -> None:
    assert command in CI, f"{command!r} is not what .ci/run runs"


def _install(command: str) -> None:
    """An installation command is not run (the tests run inside the installed toolkit): what it
    installs must exist, with the extras it names."""
    spec = shlex.split(command)[-1]
    path, _, extras = spec.partition("[")
    assert (ROOT / path / "pyproject.toml").is_file(), spec
    declared = tomllib.loads((ROOT / path / "pyproject.toml").read_text())["project"].get("optional-dependencies", {})
    assert all(e in declared for e in extras.rstrip("]").split(",") if e), spec


def _toolkit(command: str, cwd: pathlib.Path) -> subprocess.CompletedProcess:
    """``dssl-bounds ...`` at smoke size: ``--suite smoke`` and (verify) ``--only formula`` unless
    given, run in ``cwd``."""
    words = shlex.split(command)[1:]
    if words[0] in ("verify", "figures") and "--suite" not in words:
        words += ["--suite", "smoke"]
    if words[0] == "verify":
        words += ["--jobs", "1"] + ([] if "--only" in words else ["--only", *SMOKE_ONLY])
    return subprocess.run([*CLI, *words], cwd=cwd, capture_output=True, text=True)


@pytest.mark.parametrize("block_and_line", COMMANDS, ids=[f"{b.name}:{line}" for b, line in COMMANDS])
def test_command_runs(block_and_line, smoke_run, tmp_path):
    """Run in a folder holding copies of a smoke run as ``results`` and ``results-smoke``."""
    block, line = block_and_line
    for name in ("results", "results-smoke"):
        shutil.copytree(smoke_run / "results", tmp_path / name)
    for command in (c.strip() for c in line.split("&&")):
        words = shlex.split(command)
        if words[:3] == ["python3", "-m", "pip"] or words[0] == "pip":
            _install(command)
        elif "pytest" in words[:3]:
            # the whole test suite and the example's tests: what CI runs; a page's own test file
            # is run by test_test_block_passes_with_the_plugin
            if not any(w.endswith(".py") for w in words):
                _ci(line if "pip" in line else command)
        elif words[0] == "dssl-bounds":
            if words[1] == "sweep":
                (tmp_path / "examples").mkdir()
                (tmp_path / words[2]).write_text((ROOT / words[2]).read_text())
            run = _toolkit(command, tmp_path)
            assert run.returncode == 0, run.stderr[-2000:]
        else:
            pytest.fail(f"{block.name}: no rule for running {command!r}")


def _synopsis() -> dict[str, set[str]]:
    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    block = next(b for b in blocks(ROOT / "docs" / "cli.md") if b.language == "text")
    found: dict[str, set[str]] = {}
    command = None
    for line in block.body.splitlines():
        if line.startswith("dssl-bounds "):
            command = line.split()[1]
            command = "" if command.startswith("--") else command
        found.setdefault(command, set()).update(re.findall(r"--[a-z][a-z-]*", line))
    assert text
    return found


@pytest.mark.parametrize("command", ["", "verify", "figures", "sweep", "diff"])
def test_cli_synopsis_matches_help(command):
    """Every option of ``--help`` is in docs/cli.md's synopsis, and every option there exists."""
    shown = subprocess.run([*CLI, *([command] if command else []), "--help"], capture_output=True, text=True).stdout
    options = set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", shown)) - {"--help"}
    documented = _synopsis().get(command, set())
    assert documented == options


INLINE = sorted({(page, span) for page in PAGES for span in re.findall(r"`([^`\n]+)`", page.read_text(encoding="utf-8"))
                 if span.startswith(("dssl-bounds ", "python3 -m pip ", "pip install "))}, key=str)


@pytest.mark.parametrize("page_and_span", INLINE, ids=[f"{p.name}:{s}" for p, s in INLINE])
def test_inline_command_exists(page_and_span):
    """A command quoted in the text: its subcommand and options exist (``--help``), or what it
    installs exists."""
    _, span = page_and_span
    words = span.split()
    if words[0] != "dssl-bounds":
        _install(span)
        return
    command = [] if words[1].startswith("-") else [words[1]]
    shown = subprocess.run([*CLI, *command, "--help"], capture_output=True, text=True)
    assert shown.returncode == 0, span
    assert set(re.findall(r"--[a-z][a-z-]*", span)) <= set(re.findall(r"--[a-z][a-z-]*", shown.stdout)), span


def test_toml_blocks_parse():
    groups = {"dssl_bounds.objectives", "dssl_bounds.claims", "dssl_bounds.producers", "dssl_bounds.figures"}
    for block in (b for b in ALL if b.language == "toml"):
        data = tomllib.loads(block.body)
        assert set(data.get("project", {}).get("entry-points", {})) <= groups, block.name


def test_layout_names_every_package():
    """docs/index.md's layout: every path it names exists, and it names every package."""
    block = next(b for b in blocks(ROOT / "docs" / "index.md") if b.language == "text")
    named = set(re.findall(r"^\s*([a-z_]+(?:/[a-z_]+)*/)", block.body, re.M))
    assert [p for p in named if not (ROOT / p).is_dir()] == []
    packages = {f"{p.parent.relative_to(ROOT).as_posix()}/" for top in ("theory", "sim", "bounds", "figures")
                for p in (ROOT / top).rglob("__init__.py")}
    assert packages - named == set()


def test_rules_page_names_every_rule():
    from bounds import ALPHA
    from bounds.testing import RULES

    text = (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
    assert [name for name in RULES if f"| `{name}` |" not in text] == []
    assert f"`alpha = bounds.ALPHA` ({ALPHA})" in text
