"""The repository stands alone and keeps its habits: lint, format, bounds, licence, docs."""

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import mne_dyad as md

ROOT = Path(__file__).parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
#: Folders that are not the project's own files.
NOT_OURS = {".git", ".venv", ".venv-ci", ".venv-oldest", ".venv-ci-oldest", "logs"}
NOT_OURS |= {"_build", "auto_examples", "generated", "__pycache__"}
NOT_OURS |= {".pytest_cache", ".hypothesis", ".ruff_cache"}


def _project_files():
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = sorted(d for d in dirs if d not in NOT_OURS and not d.endswith(".egg-info"))
        for name in sorted(files):
            path = Path(folder) / name
            yield path.relative_to(ROOT), path


def _ruff(*args):
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


def test_ruff_check():
    res = _ruff("check", "--no-cache", ".")
    assert res.returncode == 0, f"ruff check found problems (fix: ruff check --fix .)\n{res.stdout}"


def test_ruff_format():
    res = _ruff("format", "--check", "--no-cache", ".")
    assert res.returncode == 0, f"ruff format would change files (run: ruff format .)\n{res.stdout}"


def test_pre_commit_runs_the_same_ruff():
    """The hooks use the ruff the test extra pins, with the same two commands."""
    text = (ROOT / ".pre-commit-config.yaml").read_text()
    (ruff_spec,) = [r for r in PYPROJECT["project"]["optional-dependencies"]["test"] if "ruff" in r]
    hooks = re.findall(r"- id: (\S+)", text)
    assert hooks[:2] == ["ruff-check", "ruff-format"]
    assert text.count(f'additional_dependencies: ["{ruff_spec}"]') == 2
    assert "entry: ruff check" in text and "entry: ruff format" in text
    assert "oldest_constraints.py --check" in text


def test_oldest_constraints_follow_pyproject():
    """tools/oldest-constraints.txt pins exactly the lower bounds pyproject.toml declares."""
    res = subprocess.run(
        [sys.executable, "tools/oldest_constraints.py", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    pins = dict(
        line.split("==")
        for line in (ROOT / "tools" / "oldest-constraints.txt").read_text().splitlines()
        if line and not line.startswith("#")
    )
    for req in PYPROJECT["project"]["dependencies"]:
        name, bound = re.match(r"([\w\-]+)>=(\S+)", req).groups()
        assert pins[name] == bound


def test_license_is_the_declared_one():
    assert PYPROJECT["project"]["license"] == {"text": "BSD-3-Clause"}
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("BSD 3-Clause License")
    assert "Neither the name of the copyright holder" in text  # clause 3


def test_nothing_points_outside_the_repository():
    """Specs and notes outside the clone are not part of it: cite docs/methods.rst."""
    forbidden = re.compile(r"\.\./shared|METHODS\.md|DESIGN\.md")
    hits = []
    for rel, path in _project_files():
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        hits += [
            f"{rel}:{i}" for i, line in enumerate(text.splitlines(), 1) if forbidden.search(line)
        ]
    assert hits == []


def test_methods_page_has_a_section_per_stage():
    text = (ROOT / "docs" / "methods.rst").read_text()
    for label in (
        "methods-preprocessing",
        "methods-wclc",
        "methods-sampling-error",
        "methods-susy",
        "methods-surrogates",
        "methods-variance",
        "methods-alliance",
        "methods-simulation",
    ):
        assert f".. _{label}:" in text
    assert "References" in text
    assert "methods" in (ROOT / "docs" / "index.rst").read_text()


def test_readme_layout_names_every_subpackage():
    packages = sorted(
        p.parent.name for p in (ROOT / "mne_dyad").glob("*/__init__.py") if p.parent.name[0] != "_"
    )
    modules = sorted(p.stem for p in (ROOT / "mne_dyad").glob("*.py") if not p.stem.startswith("_"))
    readme = (ROOT / "README.md").read_text()
    layout = readme[readme.index("## Layout") :]
    missing = [name for name in packages + modules if f"`{name}`" not in layout]
    assert len(packages) >= 9 and missing == []
    assert "docs/methods.rst" in layout


def test_changelog_starts_with_this_release():
    text = (ROOT / "docs" / "changes.rst").read_text()
    major, minor = md.__version__.split(".")[:2]
    first = re.search(r"^Version (\d+)\.(\d+)", text, re.M)
    assert first is not None and first.groups() == (major, minor)
    assert "changes" in (ROOT / "docs" / "index.rst").read_text()


def test_setup_script_says_what_it_deletes_and_installs():
    lines = (ROOT / "tools" / "setup.sh").read_text().splitlines()
    deletes = [i for i, line in enumerate(lines) if re.search(r"\brm\b", line)]
    # one place deletes, and it first prints what it removes and why
    assert len(deletes) == 1 and 'echo ">> removing the environment' in lines[deletes[0] - 1]
    installs = [
        i
        for i, line in enumerate(lines)
        if re.search(r"apt-get install -y -qq --no-install-recommends", line)
    ]
    assert len(installs) == 1
    assert any("installing system package" in line for line in lines[installs[0] - 5 : installs[0]])
    assert not re.search(r"\brm\b", (ROOT / ".ci" / "run").read_text())


def test_fast_tests_may_not_sample_long(small_cube):
    """The guard of conftest.py: only tests marked slow may draw long chains."""
    with pytest.raises(AssertionError, match="belongs in a test marked"):
        md.stats.variance_decomposition(small_cube, draws=1000, tune=1000, sampler="pymc")
