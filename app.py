"""lrlab web app entry: page config, navigation and the sidebar (workers and their devices).

Run with `make run` (or `streamlit run app.py`). Pages are thin: they read widgets, call the
library and render figures built by `lrlab.web.plots`. Long work runs on a worker, never here; if no
live worker is found, a local one is started once per server.
"""

from __future__ import annotations

import streamlit as st

from lrlab import __version__
from lrlab.web import ui

st.set_page_config(page_title="lrlab", page_icon="📉", layout="wide")

pages = [
    st.Page("app_pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("app_pages/lr_finder.py", title="LR Finder", icon=":material/search:",
            url_path="finder"),
    st.Page("app_pages/schedule_designer.py", title="Schedule Designer",
            icon=":material/timeline:", url_path="designer"),
    st.Page("app_pages/check.py", title="LR Check", icon=":material/stairs:",
            url_path="check"),
    st.Page("app_pages/training.py", title="Training", icon=":material/model_training:",
            url_path="training"),
    st.Page("app_pages/runs.py", title="Runs", icon=":material/history:", url_path="runs"),
]

navigation = st.navigation(pages)
ui.sidebar_worker_status()
st.sidebar.caption(f"lrlab {__version__}")
navigation.run()
