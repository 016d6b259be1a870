"""The banner for every state (no topic, no data, broker down, registry down, catching up),
the settings from env vars, and the lap table with units from the channel table."""

from __future__ import annotations

import pytest

from dashboard.lap_compare import lap_options, metric_differences, table_data, title_of
from dashboard.model import FeedStatus
from dashboard.settings import Settings
from dashboard.status import describe
from runtime.errors import ConfigError
from schemas.topics import Topics
from tests.dashboard_samples import summary

TOPICS = Topics(telemetry="t-telemetry", analytics="t-analytics")
NOW = 1000.0


def live(**changes: object) -> FeedStatus:
    status = FeedStatus(
        broker="up",
        registry="up",
        topics_found={"t-telemetry"},
        messages_per_s=2000.0,
        lag_records=12,
        latency_ms=35.0,
        last_message_at=NOW - 0.1,
    )
    for key, value in changes.items():
        setattr(status, key, value)
    return status


def test_all_well_has_no_banner_and_a_status_line_with_rate_and_lag() -> None:
    text = describe(live(), TOPICS, cars=20, now=NOW)
    assert text.banner is None and text.level == "ok"
    assert "2,000 msg/s" in text.line and "lag 12 records / 35 ms" in text.line
    assert "20 car(s)" in text.line


@pytest.mark.parametrize(
    ("changes", "cars", "level", "words"),
    [
        ({"broker": "down", "last_error": "refused"}, 0, "error", "Kafka is unreachable"),
        ({"broker": "connecting"}, 0, "info", "Connecting to Kafka"),
        ({"topics_found": set()}, 0, "info", "Waiting for topic t-telemetry"),
        ({"catching_up": True}, 20, "info", "Catching up"),
        ({"last_message_at": None}, 0, "info", "No live telemetry"),
        ({"last_message_at": NOW - 60}, 20, "info", "No live telemetry"),
        ({"registry": "down", "last_message_at": None}, 0, "error", "registry is unreachable"),
        ({"registry": "down", "dropped_registry_down": 3}, 20, "error", "registry is unreachable"),
        ({"registry": "down"}, 20, "warn", "decoding from cache"),
    ],
)
def test_each_state_has_its_banner(
    changes: dict[str, object], cars: int, level: str, words: str
) -> None:
    text = describe(live(**changes), TOPICS, cars=cars, now=NOW)
    assert text.level == level
    assert text.banner is not None and words in text.banner


def test_skipped_records_are_counted_in_the_status_line() -> None:
    text = describe(live(decode_errors=3, dropped_registry_down=5), TOPICS, 1, now=NOW)
    assert "skipped 3 bad + 5 undecodable" in text.line


def test_settings_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VISUALIZATION_FPS", "20")
    monkeypatch.setenv("F1_TELEMETRY_TOPIC", "other")
    settings = Settings.from_env()
    assert settings.fps == 20 and settings.frame_period_ms == 50
    assert settings.topics.telemetry == "other"
    assert Settings().fps == 30 and Settings().frame_period_ms == 33
    monkeypatch.setenv("VISUALIZATION_FPS", "fast")
    with pytest.raises(ConfigError, match="VISUALIZATION_FPS"):
        Settings.from_env()
    monkeypatch.setenv("VISUALIZATION_FPS", "500")
    with pytest.raises(ConfigError, match="between 1 and 60"):
        Settings.from_env()


def test_lap_table_titles_carry_units_from_the_channel_table() -> None:
    assert title_of("avg_speed_kmh") == "Average speed (km/h)"
    assert title_of("full_throttle_share") == "Full throttle (%)"
    assert title_of("lap") == "Lap"


def test_lap_table_marks_the_best_lap_and_shows_fractions_as_percent() -> None:
    rows = [summary(1), {**summary(2), "lap_time_s": 86.5}, {**summary(3), "lap_time_s": 88.0}]
    data = table_data(rows)
    assert data["key"] == ["car-01|1", "car-01|2", "car-01|3"]
    assert data["bg"][1] != "transparent" and data["bg"][0] == data["bg"][2] == "transparent"
    assert data["lap_time"] == ["1:27.000", "1:26.500 \u2605", "1:28.000"]
    assert data["full_throttle_share"][0] == pytest.approx(65.0)
    assert list(lap_options(rows).values()) == ["car-01|2", "car-01|1", "car-01|3"]


def test_lap_comparison_shows_a_minus_b_coloured_by_sign() -> None:
    a = {**summary(1), "lap_time_s": 86.8, "sector1_s": 27.5, "max_speed_kmh": 320.0}
    groups = metric_differences(a, summary(2))
    assert [g.title for g in groups] == [
        "Lap and sector times, A \u2212 B (s, + = A slower)",
        "Speeds, A \u2212 B (km/h, + = A faster)",
        "Shares, A \u2212 B (%, + = A more)",
    ]
    times, speeds, shares = groups
    assert times.metrics[1:] == ["Sector 1", "Sector 2", "Sector 3"]
    assert times.diffs == pytest.approx([-0.2, -0.5, 0.0, 0.0])
    assert times.colours[:3] == ["#2ecc71", "#2ecc71", "#8893a5"]  # A gained, then level
    assert speeds.diffs == pytest.approx([0.0, 2.0, 0.0]) and speeds.colours[1] == "#2ecc71"
    slower = metric_differences(summary(1), {**summary(2), "sector2_s": 32.0})[0]
    assert slower.diffs[2] == pytest.approx(1.0) and slower.colours[2] == "#ff453a"
    assert shares.diffs == pytest.approx([0.0, 0.0])
