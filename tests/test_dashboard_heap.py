"""The pit wall server's collection policy (dashboard.heap): a built session's objects are
left out of collections, and a closed session's reference cycles are freed."""

import gc
import weakref

from bokeh.document import Document

from dashboard import heap


class Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cyclic collector frees it


def test_a_built_sessions_objects_are_frozen_and_a_closed_sessions_cycles_freed() -> None:
    gc.collect()
    node = Node()
    alive = weakref.ref(node)
    try:
        heap.session_built()
        assert gc.get_freeze_count() > 0
        del node
        gc.collect()
        assert alive() is not None  # frozen: collections leave it alone
        kept = Node()
        heap.session_closed(None)
        assert alive() is None  # the closed session's cycle is freed
        assert gc.get_freeze_count() > 0  # what is still alive is frozen again
        assert kept.me is kept
    finally:
        gc.unfreeze()


def test_bokeh_takes_the_close_hook_as_a_session_destroyed_callback() -> None:
    Document().on_session_destroyed(heap.session_closed)  # checks the callback's signature
