"""The pit-wall dashboard: ``panel serve dashboard/app.py``.

Panel runs this file once per browser session. The Kafka consumer is not started here but in
:mod:`dashboard.feed`, which Python imports once per server process, so however many
sessions are open there is one consumer feeding one shared model.
"""

import panel as pn

from dashboard import heap, theme
from dashboard.feed import log_to_server
from dashboard.page import Page

log_to_server()
pn.extension(theme="dark", raw_css=[theme.PAGE_CSS])

Page().view().servable(title="F1 pit wall")
# The session's models now live as long as it does: out of the collector's walks until it
# ends (dashboard.heap).
heap.session_built()
pn.state.on_session_destroyed(heap.session_closed)
