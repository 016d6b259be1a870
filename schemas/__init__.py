"""The data contract every service agrees on: the Avro schemas and their released versions,
the channel table, topic and subject names, the serde (``schemas.serde``), the registry client
and the evolution gate.

It holds no service logic and imports no service package (only ``runtime``); see README.md
for the file table, the wire format and how to evolve a schema.
"""
