"""The lap analytics job (``f1-analytics``): a Spark Structured Streaming query that reads
the telemetry topic, follows each car's laps by event time (with a watermark for late
records) and publishes one summary per completed lap to the analytics topic, each
micro-batch exactly once. It holds the per-lap logic without Spark (``laps``), the Spark
side (``lap_aggregation``, ``confluent_columns`` for Confluent-framed Avro,
``spark_session``, ``spark_worker``), the query and its run loop (``job``), the publisher
(``publish``), the settings and the command (``settings``, ``cli``); see
analytics/README.md.
"""
