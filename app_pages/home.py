"""Home: every page in the order of work, in two lines each."""

import streamlit as st

from lrlab.web.pages import PAGES

st.title("lrlab")
st.markdown(
    "Choose a learning rate and a learning-rate schedule you can trust, then check the choice "
    "with a short training run: find, check, train. The Designer and Runs serve all three."
)

for page in PAGES:
    st.page_link(page.script, label=f"**{page.title}**", icon=page.icon)
    st.markdown(page.summary)
