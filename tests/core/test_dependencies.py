"""The direction of dependencies is checked by `make lint` (import-linter, contracts in
pyproject.toml): a domain app that imports a delivery layer, even inside a function, fails it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(project: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=project,
        env={"PYTHONPATH": str(project), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def copy_of_the_project(tmp_path: Path) -> Path:
    shutil.copytree(
        ROOT / "farcare",
        tmp_path / "farcare",
        ignore=shutil.ignore_patterns("__pycache__", "locale", "static", "fonts", "data"),
    )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_tree_keeps_its_contracts(tmp_path):
    result = lint_imports(copy_of_the_project(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_domain_app_importing_the_sync_layer_inside_a_function_breaks_the_build(tmp_path):
    project = copy_of_the_project(tmp_path)
    news2 = project / "farcare" / "clinical" / "news2.py"
    news2.write_text(
        news2.read_text()
        + "\n\ndef _queue_for_the_hub() -> None:\n    from farcare.sync import outbox  # noqa\n"
    )
    result = lint_imports(project)
    assert result.returncode != 0
    assert "farcare.clinical is not allowed to import farcare.sync" in result.stdout
    assert "farcare.clinical.news2 -> farcare.sync.outbox" in result.stdout


def test_an_app_importing_another_apps_views_breaks_the_build(tmp_path):
    project = copy_of_the_project(tmp_path)
    urls = project / "farcare" / "patients" / "urls.py"
    urls.write_text(
        "from farcare.audit.views import patient_access_log  # noqa\n" + urls.read_text()
    )
    result = lint_imports(project)
    assert result.returncode != 0
    assert "farcare.patients.urls -> farcare.audit.views" in result.stdout
