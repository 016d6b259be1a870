"""The telemetry simulator (``f1-simulate``): a point-mass physics model of one car or a grid
of up to 20 on a circuit of :mod:`circuit`, paced against the wall clock and streamed as Avro
to Kafka, or written to a CSV or JSON Lines file. It holds the session and its compiled tick
(``simulation``, ``physics``, ``driver``, ``car``), the pacing (``pacing``), the outputs
(``kafka_output``, ``output_files``), the realism report (``report``) and the command
(``cli``); see producer/README.md.
"""
