"""lrlab web app entry: page config, navigation and the sidebar (workers and their devices).

Run with `make run` (or `streamlit run app.py`). Pages are thin: they read widgets, call the
library and render figures built by `lrlab.web.plots`. Long work runs on a worker, never here; if no
live worker is found, a local one is started once per server.
"""

from __future__ import annotations

import streamlit as st

from lrlab import __version__
from lrlab.web import ui
from lrlab.web.pages import PAGES

st.set_page_config(page_title="lrlab", page_icon="📉", layout="wide")

pages = [st.Page("app_pages/home.py", title="Home", icon=":material/home:", default=True)] + [
    st.Page(page.script, title=page.title, icon=page.icon, url_path=page.url_path)
    for page in PAGES
]

navigation = st.navigation(pages)
ui.sidebar_worker_status()
st.sidebar.caption(f"lrlab {__version__}")
navigation.run()
