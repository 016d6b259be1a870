"""The unit tests: seconds, no processes and no network (``.venv/bin/pytest -q tests``).
Beside the ``test_*.py`` modules are the helpers they share: ``fakes`` (Kafka and the schema
registry in memory), ``dashboard_samples`` and ``avro_samples`` (test data) and
``analytics_reference`` (an independent pandas computation of the lap summaries, which the
integration tests use too). A test module imports helpers, never another test module
(``test_test_layout`` checks it); see tests/README.md.
"""
