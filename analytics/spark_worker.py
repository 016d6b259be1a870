"""The Python worker daemon of the job's Spark executors, with one compatibility fix.

``applyInPandasWithState`` hands each Python worker a struct column saying where each
group's rows start (``startOffset``) and how many there are (``numRows``). With pyarrow 26,
converting that struct column to pandas turns those integers into floats (the column is
mostly nulls), and PySpark 4.1.1 then fails in ``RecordBatch.slice`` with "'float' object
cannot be interpreted as an integer": every call of the stateful function fails. The fix
converts exactly that column with ``to_pylist``, which keeps Python ints. It is a no-op for
pyarrow versions that keep the integers, and only that column is touched.

Spark starts this module instead of ``pyspark.daemon`` (``spark.python.daemon.module``);
workers fork from the daemon, so the patch applies in every one of them.
"""

from __future__ import annotations

import warnings
from typing import Any

import pandas as pd
import pyarrow as pa
from pyspark import daemon
from pyspark.sql.pandas import serializers

_STATE_INFO_FIELDS = {"properties", "keyRowAsUnsafe", "object", "startOffset", "numRows"}


def _is_state_info(arrow_type: pa.DataType) -> bool:
    return (
        pa.types.is_struct(arrow_type)
        and {arrow_type.field(i).name for i in range(arrow_type.num_fields)} >= _STATE_INFO_FIELDS
    )


def patch() -> None:
    cls = serializers.ApplyInPandasWithStateSerializer
    if getattr(cls, "_f1_patched", False):
        return
    original = cls.arrow_to_pandas

    def arrow_to_pandas(self: Any, arrow_column: Any, idx: int, *args: Any, **kwargs: Any) -> Any:
        if _is_state_info(arrow_column.type):
            return pd.Series(arrow_column.to_pylist(), dtype=object)
        return original(self, arrow_column, idx, *args, **kwargs)

    # A monkeypatch on purpose: PySpark's method replaced, and a marker of ours on its class.
    cls.arrow_to_pandas = arrow_to_pandas  # type: ignore[method-assign]
    cls._f1_patched = True  # type: ignore[attr-defined]


if __name__ == "__main__":
    # PySpark's own output assembly trips a pandas deprecation warning on every batch.
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"pyspark\..*")
    patch()
    daemon.manager()
