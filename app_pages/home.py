"""Home: what each page does, in two lines each."""

import streamlit as st

st.title("lrlab")
st.markdown(
    "Choose a learning rate and a learning-rate schedule you can trust, then check the choice "
    "with a short training run."
)

st.page_link("app_pages/schedule_designer.py", label="**Schedule Designer**",
             icon=":material/timeline:")
st.markdown(
    "Design warmup, cosine, 1cycle, SGDR, step, cyclic, WSD and more; preview LR and momentum per "
    "step and overlay several.  \n"
    "Export a versioned JSON/YAML config or runnable PyTorch code, and import a config back."
)
