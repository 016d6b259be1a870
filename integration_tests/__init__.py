"""The integration tests: the services against real Kafka, a schema registry, InfluxDB,
Spark and headless Chromium, each test on topics and subjects of its own. ``conftest`` finds
the infrastructure (env endpoints, else testcontainers, else the local stack). Beside the
``test_*.py`` modules are their helpers, some of which the benchmarks use: ``kafka_io`` (bulk
produce and read back), ``analytics_helpers``, ``sink_support``, ``platform_support`` (the
whole platform as processes), ``containers`` (testcontainers) and ``dashboard_probe`` (a
dashboard server, headless Chromium and websocket sessions); see tests/README.md.
"""
