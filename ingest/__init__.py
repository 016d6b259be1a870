"""The F1 game as a second source of telemetry: ``f1-ingest-udp``.

The game's UDP packets (formats 2023 to 2026) are decoded with numpy views over each
datagram (:mod:`ingest.layouts`, :mod:`ingest.decode`), joined into one telemetry record per
car per Car Telemetry packet (:mod:`ingest.session`) and produced as the same Avro telemetry
as the simulator's; raw datagrams can be recorded and replayed (:mod:`ingest.recording`).
"""
