"""The pit-wall dashboard: ``panel serve dashboard/app.py``.

Panel runs this file once per browser session. The Kafka consumer is not started here but in
:mod:`dashboard.feed`, which Python imports once per server process, so however many
sessions are open there is one consumer feeding one shared model.
"""

import logging

import panel as pn

from dashboard import theme
from dashboard.page import Page

# The server's log gets the dashboard's own lines (feed start, assignments, outages) once,
# however many sessions run this file.
_log = logging.getLogger("dashboard")
if not _log.handlers:
    _handler = logging.StreamHandler()
    _handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    _log.addHandler(_handler)
    _log.setLevel(logging.INFO)
    _log.propagate = False

pn.extension(theme="dark", raw_css=[theme.PAGE_CSS])

Page().view().servable(title="F1 pit wall")
