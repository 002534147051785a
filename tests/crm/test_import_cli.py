"""``pathcast import crm``: JSON summary, dry runs, exit codes for unusable input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from pathcast.cli import app
from pathcast.crm import models as m
from pathcast.db import session_factory
from pathcast.events import Event

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "import"
runner = CliRunner()


def _maven_folder(datasets: Path, tmp_path: Path, deals: int = 120) -> Path:
    folder = tmp_path / "maven"
    folder.mkdir()
    for name in ("accounts.csv", "products.csv", "sales_teams.csv"):
        shutil.copy(datasets / "maven_crm" / name, folder / name)
    lines = (datasets / "maven_crm" / "sales_pipeline.csv").read_bytes().split(b"\r\n")
    (folder / "sales_pipeline.csv").write_bytes(b"\r\n".join(lines[: deals + 1]) + b"\r\n")
    return folder


def _count(db_url: str, model: type) -> int:
    with session_factory(db_url)() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


@pytest.mark.dataset
def test_maven_import_prints_a_json_summary(configured: str, datasets: Path, tmp_path: Path) -> None:
    folder = _maven_folder(datasets, tmp_path)
    result = runner.invoke(app, ["import", "crm", "--format", "maven", str(folder), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["format"] == "maven" and summary["dry_run"] is False
    assert summary["entities"]["opportunity"] == {
        "imported": 120,
        "updated": 0,
        "unchanged": 0,
        "rejected": 0,
    }
    assert summary["entities"]["account"]["imported"] == 85
    assert summary["total"]["rejected"] == 0 and summary["rejects_path"] is None
    assert _count(configured, m.Opportunity) == 120

    again = runner.invoke(app, ["import", "crm", "--format", "maven", str(folder), "--json"])
    assert json.loads(again.stdout)["entities"]["opportunity"]["unchanged"] == 120


@pytest.mark.dataset
def test_dry_run_writes_nothing(configured: str, datasets: Path, tmp_path: Path) -> None:
    folder = _maven_folder(datasets, tmp_path, deals=40)
    events = _count(configured, Event)
    result = runner.invoke(app, ["import", "crm", "-f", "maven", str(folder), "--dry-run", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["dry_run"] is True
    assert summary["entities"]["opportunity"]["imported"] == 40
    assert _count(configured, Event) == events
    assert _count(configured, m.Opportunity) == _count(configured, m.Account) == 0


def test_human_summary_and_rejects_file(configured: str, tmp_path: Path) -> None:
    source = tmp_path / "in"
    shutil.copytree(FIXTURES / "generic", source)
    result = runner.invoke(
        app,
        [
            "import",
            "crm",
            "--format",
            "generic",
            "--mapping",
            str(source / "legacy_mapping.toml"),
            str(source / "deals_broken.csv"),
            str(source / "accounts.csv"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Import summary" in result.output and "opportunity" in result.output
    rejects = source / "deals_broken.rejects.csv"  # default: beside the first input
    assert rejects.is_file()
    assert rejects.read_text(encoding="utf-8").startswith("row_number,column,value,reason,file")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--format", "generic", "{fixtures}/generic/accounts.csv"], "needs --mapping"),
        (["--format", "salesforce", "{tmp}/missing.csv"], "file not found"),
        (["--format", "hubspot", "{fixtures}/salesforce/Account.csv"], "not a recognisable hubspot export"),
        (
            ["--format", "generic", "--mapping", "{tmp}/bad.json", "{fixtures}/generic/accounts.csv"],
            "not valid JSON or TOML",
        ),
        (
            ["--format", "salesforce", "--encoding", "klingon", "{fixtures}/salesforce/Account.csv"],
            "unknown encoding",
        ),
    ],
)
def test_unusable_input_exits_non_zero_with_a_message(
    configured: str, tmp_path: Path, arguments: list[str], message: str
) -> None:
    (tmp_path / "bad.json").write_text("{not json", encoding="utf-8")
    filled = [a.format(fixtures=FIXTURES, tmp=tmp_path) for a in arguments]
    result = runner.invoke(app, ["import", "crm", *filled])
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
    assert _count(configured, Event) == 0


def test_unknown_format_is_refused(configured: str) -> None:
    result = runner.invoke(app, ["import", "crm", "--format", "pipedrive", str(FIXTURES)])
    assert result.exit_code != 0
    assert "pipedrive" in result.output
