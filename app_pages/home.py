"""Home: what each page does, in two lines each."""

import streamlit as st

st.title("lrlab")
st.markdown(
    "Choose a learning rate and a learning-rate schedule you can trust, then check the choice "
    "with a short training run."
)

PAGES = (
    ("app_pages/lr_finder.py", "LR Finder", ":material/search:",
     "Run an LR range test on a worker and watch the loss-vs-LR curve grow; get suggestions "
     "from every known method, how far to trust them, and ready schedules. Or analyse a curve "
     "from torch-lr-finder, fastai or Lightning."),
    ("app_pages/schedule_designer.py", "Schedule Designer", ":material/timeline:",
     "Design warmup, cosine, 1cycle, SGDR, step, cyclic, WSD and more; preview LR and momentum "
     "per step and overlay several. Export a versioned JSON/YAML config or runnable PyTorch "
     "code, and import a config back."),
    ("app_pages/training.py", "Training", ":material/model_training:",
     "A short run with the Bag of Tricks (He et al. 2019): linear scaling, warmup, zero-γ, no "
     "bias decay, ResNet-D, cosine, label smoothing, mixup, distillation, with live charts."),
    ("app_pages/runs.py", "Runs", ":material/history:",
     "Every range test and training run: open one, compare several (overlaid curves, config "
     "diff, accuracy table), cancel or delete."),
)

for path, title, icon, text in PAGES:
    st.page_link(path, label=f"**{title}**", icon=icon)
    st.markdown(text)
