"""The platform's shared runtime: what every command stands on, and nothing of any service.

``errors`` (the root exception and its families), ``paths`` (the cache and state folders),
``endpoints`` (where Kafka, the registry and InfluxDB are, and the tokens to reach InfluxDB),
``kafka_security`` (TLS and SASL of every Kafka client, Python and Spark), ``registry_access``
(the registry's basic auth and CA),
``settings`` (one setting = env var, flag, default; one precedence rule; secrets masked),
``command`` (parse, logging, signals, exit codes), ``kafka`` (client configuration and the
broker check), ``compile_notice`` (a log line while numba compiles).

This package imports no other package of the project (a unit test reads the import graph).
"""
