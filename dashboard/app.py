"""The pit-wall dashboard: ``panel serve dashboard/app.py``.

Panel runs this file once per browser session. The Kafka consumer is not started here but in
:mod:`dashboard.feed`, which Python imports once per server process, so however many
sessions are open there is one consumer feeding one shared model.
"""

import panel as pn

from dashboard import theme
from dashboard.feed import log_to_server
from dashboard.page import Page

log_to_server()
pn.extension(theme="dark", raw_css=[theme.PAGE_CSS])

Page().view().servable(title="F1 pit wall")
