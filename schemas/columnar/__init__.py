"""The columnar codec: batches of records as numpy columns, to framed Avro and back.

``encoder`` writes a column batch (``Serializer.encode_columns``); ``decoder`` reads a batch
of framed values into columns (``ColumnDecoder``); ``kernels`` holds the compiled numba loops
the encoder uses, imported only at the first column batch so that a process that only
decodes never loads numba. Both directions give exactly what the per-record serde gives:
the same bytes, the same values, the same errors.
"""
