"""The platform's InfluxDB layout and the reads of stored sessions.

``layout`` names the measurements and their time fields, which the sink writes
(``sinks.line_protocol``) and every reader reads; ``history`` holds every Flux query of the
platform (sessions, cars, laps, lap summaries, exports), used by ``f1-sink-influx history``
and by the pit wall's lap comparison. It imports the contract (``schemas``) and the runtime,
and no service.
"""
