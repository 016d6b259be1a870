"""The evolution gate passes safe changes and names the field of unsafe ones."""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from schemas import evolution
from schemas.cli import main
from schemas.topics import HISTORY_DIR, SCHEMA_DIR

V1 = json.loads((SCHEMA_DIR / "history" / "telemetry.v1.avsc").read_text())
CUR, REL = "telemetry.avsc", "history/telemetry.v1.avsc"

Change = Callable[[dict[str, Any]], None]


def _field(schema: dict[str, Any], name: str) -> dict[str, Any]:
    return next(f for f in schema["fields"] if f["name"] == name)


def _changed(change: Change) -> dict[str, Any]:
    new = copy.deepcopy(V1)
    change(new)
    return new


def _problems(change: Change) -> list[evolution.Problem]:
    new = _changed(change)
    return (
        evolution.structural_problems(V1, new, CUR, REL)
        + evolution.data_problems(V1, new, CUR, REL)
        + (evolution.apache_problems(V1, new, CUR, REL) or [])
    )


def _add(field: dict[str, Any]) -> Change:
    return lambda s: s["fields"].append(field)


ERS = {"name": "ers_kj", "type": "float", "doc": "Energy store. Unit: kJ. Range: 0..4000."}


def test_released_schemas_pass() -> None:
    reports = evolution.check_all()
    released = {p.name for p in HISTORY_DIR.glob("*.avsc")}
    assert {r.released.name for r in reports} == released
    assert {"telemetry.v1.avsc", "lap_summary.v1.avsc"} <= released
    assert all(r.ok for r in reports), [str(p) for r in reports for p in r.problems]
    assert all(r.apache_checked for r in reports)


@pytest.mark.parametrize(
    "change",
    [
        _add({**ERS, "default": 0.0}),
        _add({**ERS, "type": ["null", "float"], "default": None}),
        lambda s: _field(s, "speed_kmh").update(doc="Speed, new words. Unit: km/h. Range: 0..400."),
    ],
    ids=["added-with-default", "added-nullable", "doc-reworded"],
)
def test_compatible_change_passes(change: Change) -> None:
    assert _problems(change) == []


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        (lambda s: s["fields"].remove(_field(s, "rpm")), "rpm", "removed"),
        (_add(ERS), "ers_kj", "added without a default"),
        (lambda s: _field(s, "gear").update(type="long"), "gear", "long cannot be read as int"),
        (lambda s: _field(s, "gear").update(type="string"), "gear", "cannot be read as"),
        (lambda s: _field(s, "drs").update(type="int"), "drs", "cannot be read as"),
        (
            lambda s: _field(s, "timestamp").update(
                type={"type": "long", "logicalType": "timestamp-millis"}
            ),
            "timestamp",
            "logical type changed",
        ),
        (
            lambda s: _field(s, "speed_kmh").update(doc="Speed. Unit: m/s. Range: 0..120."),
            "speed_kmh",
            "unit changed km/h -> m/s",
        ),
        (lambda s: _field(s, "lap").update(name="lap_number"), "lap_number", "without a default"),
    ],
    ids=[
        "removed",
        "added-no-default",
        "int-to-long",
        "int-to-string",
        "bool-to-int",
        "micros-to-millis",
        "unit",
        "renamed",
    ],
)
def test_incompatible_change_fails_naming_the_field(change: Change, field: str, words: str) -> None:
    problems = evolution.structural_problems(V1, _changed(change), CUR, REL)
    assert problems, "the gate let an incompatible change through"
    text = "\n".join(map(str, problems))
    assert f"field {field!r}" in text and words in text
    assert text.startswith(f"{CUR} vs {REL}: ")


def test_data_and_apache_checks_agree_on_a_removed_field() -> None:
    new = _changed(lambda s: s["fields"].remove(_field(s, "rpm")))
    data = evolution.data_problems(V1, new, CUR, REL)
    assert [p.field for p in data] == ["rpm"]
    assert "old readers cannot read new data" in data[0].message
    apache = evolution.apache_problems(V1, new, CUR, REL)
    assert apache is not None and [p.field for p in apache] == ["rpm"]


def test_removing_a_field_that_had_a_default_passes() -> None:
    with_default = copy.deepcopy(V1)
    with_default["fields"].append({**ERS, "default": 0.0})
    assert evolution.structural_problems(with_default, V1, CUR, REL) == []
    assert evolution.data_problems(with_default, V1, CUR, REL) == []


def test_sample_records_fill_every_field_within_range() -> None:
    for record in evolution.sample_records(V1):
        assert set(record) == {f["name"] for f in V1["fields"]}
        assert 0 <= record["speed_kmh"] <= 400 and record["driver"] == "ABC"


def _tree(tmp_path: Path) -> Path:
    for name in ("telemetry.avsc", "lap_summary.avsc"):
        shutil.copy(SCHEMA_DIR / name, tmp_path / name)
    shutil.copytree(SCHEMA_DIR / "history", tmp_path / "history")
    return tmp_path


def test_cli_check_passes_and_says_the_registry_was_not_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", "--no-registry", "--schemas-dir", str(_tree(tmp_path))]) == 0
    out = capsys.readouterr().out
    assert "ok    telemetry.avsc vs history/telemetry.v1.avsc" in out
    assert "registry: not asked" in out


def test_cli_check_fails_naming_schema_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tree = _tree(tmp_path)
    broken = _changed(lambda s: s["fields"].remove(_field(s, "rpm")))
    (tree / "telemetry.avsc").write_text(json.dumps(broken))
    assert main(["check", "--no-registry", "--schemas-dir", str(tree)]) == 1
    err = capsys.readouterr().err
    assert "telemetry.avsc vs history/telemetry.v1.avsc: field 'rpm' removed" in err
    assert "old readers cannot read new data" in err


@pytest.mark.parametrize(
    ("file", "text", "why"),
    [
        ("telemetry.avsc", '{"type": "record", "name": ', "telemetry.avsc: not JSON"),
        ("telemetry.avsc", "[]", "telemetry.avsc: not an Avro record schema"),
        (
            "lap_summary.avsc",
            '{"type": "record", "name": "x", "fields": [{"name": "a", "type": "nope"}]}',
            "lap_summary.avsc: not a valid Avro schema",
        ),
        ("history/telemetry.v1.avsc", "{", "telemetry.v1.avsc: not JSON"),
    ],
)
def test_cli_check_reports_a_malformed_schema_file_as_a_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], file: str, text: str, why: str
) -> None:
    tree = _tree(tmp_path)
    (tree / file).write_text(text)
    assert main(["check", "--no-registry", "--schemas-dir", str(tree)]) == 1
    err = capsys.readouterr().err
    assert f"FAIL  {why}" in err and "Traceback" not in err


def test_cli_check_without_a_registry_is_quick(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import time

    t0 = time.monotonic()
    code = main(["check", "--registry", "http://127.0.0.1:9/apis/ccompat/v7"])
    assert code == 0 and time.monotonic() - t0 < 5
    assert "skip  registry: not asked, none answered" in capsys.readouterr().out


def test_history_versions_are_ordered(tmp_path: Path) -> None:
    for v in (1, 2, 10):
        (tmp_path / f"telemetry.v{v}.avsc").write_text("{}")
    (tmp_path / "telemetry_old.v3.avsc").write_text("{}")
    names = [p.name for p in evolution.released_versions("telemetry", tmp_path)]
    assert names == ["telemetry.v1.avsc", "telemetry.v2.avsc", "telemetry.v10.avsc"]


def test_current_schemas_match_their_latest_release() -> None:
    # v1 is the current version: a change to the .avsc files must come with a new release.
    for path in evolution.current_schemas():
        assert evolution.matches_latest_release(path), path.name
