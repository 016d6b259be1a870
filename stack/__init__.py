"""The local stack (``f1-stack``): Kafka, a schema registry with the Confluent API (Apicurio)
and InfluxDB as local processes without Docker, installed once into a cache (from Maven
Central, or built from source), the Spark connector jars, and ``f1-stack demo``, which runs
the whole platform. It holds one module per service (``kafka``, ``apicurio``, ``influxdb``,
``spark_jars``), their shared start, stop and health logic (``service``, ``procs``,
``lifecycle``), where downloads and state live (``paths``), the build tools (``tools``),
the platform's topics (``topics``), the demo (``demo``) and the command (``cli``).
"""
