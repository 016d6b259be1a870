"""The platform's shared runtime: what every command stands on, and nothing of any service.

``errors`` (the root exception and its families), ``paths`` (the cache and state folders),
``endpoints`` (where Kafka, the registry and InfluxDB are, and the secrets to reach them),
``settings`` (one setting = env var, flag, default; one precedence rule; secrets masked),
``command`` (parse, logging, signals, exit codes), ``kafka`` (client configuration and the
broker check), ``compile_notice`` (a log line while numba compiles).

This package imports no other package of the project (a unit test reads the import graph).
"""
