"""lrlab web app entry: page config, navigation and the sidebar status.

Run with `make run` (or `streamlit run app.py`). Pages are thin: they read widgets, call the
library and render figures built by `lrlab.plots`.
"""

from __future__ import annotations

import streamlit as st

from lrlab import __version__

st.set_page_config(page_title="lrlab", page_icon="📉", layout="wide")

pages = [
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/schedule_designer.py", title="Schedule Designer",
            icon=":material/timeline:", url_path="designer"),
]

with st.sidebar:
    st.caption(f"lrlab {__version__}")

st.navigation(pages).run()
