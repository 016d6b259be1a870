"""Stored sessions played back: ``f1-replay``.

A session the sink stored in InfluxDB (or a file exported from it) is read a window at a time
(:mod:`replay.sources`), typed from the channel table (:mod:`replay.columns`), cut at a lap
and given a new session id and event times (:mod:`replay.timeline`), and streamed at the pace
it was recorded at, or N times that (:mod:`replay.stream`), through the platform's telemetry
output, or written to a file (:mod:`replay.files`).
"""
