"""How telemetry and lap summaries are laid out in InfluxDB: measurement names, time fields.

Measurement ``telemetry``: one point per record, tags ``session_id``, ``car_id``, ``driver``
(the channel table's tag columns), ``lap`` an integer field. Measurement ``laps``: one lap
summary per car per lap, stamped at the lap's end.
"""

from __future__ import annotations

from schemas.channels import LAP_SUMMARY, TELEMETRY

TELEMETRY_MEASUREMENT = "telemetry"
LAPS_MEASUREMENT = "laps"

# Which field is the point's timestamp. A lap summary is stamped at the end of its lap (one
# per car per lap, so the key is unique); lap_start stays an integer field (µs).
TIME_FIELD = {TELEMETRY: "timestamp", LAP_SUMMARY: "lap_end"}
MEASUREMENT = {TELEMETRY: TELEMETRY_MEASUREMENT, LAP_SUMMARY: LAPS_MEASUREMENT}
