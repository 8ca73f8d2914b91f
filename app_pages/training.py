"""Training: a short run with the Bag of Tricks on a worker, with live charts, cancel, downloads."""

from __future__ import annotations

import streamlit as st

from lrlab import designer, monitor, ui
from lrlab.data import DATASETS
from lrlab.errors import LrlabError
from lrlab.models import MODELS, VARIANTS, describe_for_dataset
from lrlab.paths import run_dir
from lrlab.plots import training_figure
from lrlab.schedules import Schedule, parse_schedule

state = st.session_state
store = ui.store()

st.title("Training")
st.caption("A short run with the tricks of He et al. (2019) to check an LR and schedule. "
           "Runs on the worker; charts update live and the run is kept on the Runs page.")

@st.cache_data(show_spinner=False, max_entries=64)
def model_line(model: str, dataset: str, variant: str, width: int) -> str:
    return describe_for_dataset(model, dataset, variant=variant, width=width or None)


SCHEDULE_SOURCES = ("Warmup + cosine (from the tricks)", "Schedule Designer (current form)",
                    "LR Finder advice", "Upload a file")

# What to train sits outside the form, so the model's size updates as it is chosen.
c = st.columns([3, 2, 2, 3, 4])
model = c[0].selectbox("Model", list(MODELS), key="training.model")
variant = c[1].selectbox("ResNet variant", VARIANTS, index=VARIANTS.index("D"),
                         key="training.variant", help="He et al. 2019, Fig. 2 (ResNets only).")
width = c[2].number_input("Width", 0, 512, 0, key="training.width",
                          help="Base channel count; 0 keeps the model's default (64 for "
                               "ResNets, 32 for small_cnn). Narrow nets train fast on CPU.")
dataset = c[3].selectbox("Dataset", list(DATASETS), key="training.dataset",
                         format_func=lambda name: DATASETS[name].title)
data_root = c[4].text_input("Data folder (sets that need one)", key="training.root")
st.caption(model_line(model, dataset, variant, int(width)))

with st.form("training.form"):
    c = st.columns(4)
    batch_size = c[0].number_input("Batch size", 1, 4096, 128, key="training.batch")
    epochs = c[1].number_input("Epochs", 1, 1000, 5, key="training.epochs")
    seed = c[2].number_input("Seed", 0, 2**31 - 1, 0, key="training.seed")
    precision = c[3].selectbox("Precision", ["auto", "fp32", "bf16", "fp16"],
                               key="training.precision",
                               help="auto: fp16 with loss scaling on CUDA, fp32 on CPU.")
    c = st.columns(4)
    optimizer = c[0].selectbox("Optimizer", ["sgd", "adam", "adamw"], key="training.opt")
    lr = c[1].number_input("LR (at the reference batch)", 1e-8, 10.0, 0.1, format="%g",
                           key="training.lr")
    momentum = c[2].number_input("Momentum / β1", 0.0, 0.999, 0.9, key="training.momentum")
    weight_decay = c[3].number_input("Weight decay", 0.0, 1.0, 5e-4, format="%g",
                                     key="training.wd")

    st.markdown("**Schedule**")
    source = st.radio("Schedule from", SCHEDULE_SOURCES, key="training.schedule_source",
                      horizontal=True, label_visibility="collapsed")
    schedule_file = st.file_uploader("Schedule file", type=["json", "yaml", "yml"],
                                     key="training.schedule_file")

    st.markdown("**Tricks** (paper defaults)")
    c = st.columns(4)
    linear_scaling = c[0].toggle("Linear-scaling LR", True, key="training.linear_scaling",
                                 help="LR × batch / 256.")
    warmup_epochs = c[1].number_input("Warmup epochs", 0, 100, 1, key="training.warmup")
    zero_gamma = c[2].toggle("Zero-γ", True, key="training.zero_gamma")
    no_bias_decay = c[3].toggle("No bias decay", True, key="training.no_bias_decay")
    c = st.columns(4)
    cosine = c[0].toggle("Cosine decay", True, key="training.cosine")
    label_smoothing = c[1].number_input("Label smoothing ε", 0.0, 0.5, 0.1,
                                        key="training.label_smoothing")
    mixup = c[2].number_input("Mixup α (0 = off)", 0.0, 5.0, 0.0, key="training.mixup")
    teacher = c[3].text_input("Distillation teacher (run folder or model file)",
                              key="training.teacher")
    submitted = st.form_submit_button("Start training", type="primary")


def chosen_schedule() -> dict | None:
    """The schedule config picked in the form, or None to let the tricks build one."""
    if source == SCHEDULE_SOURCES[1]:
        form = {**designer.default_form(),
                **{k[2:]: v for k, v in state.items() if isinstance(k, str) and k.startswith("d.")}}
        return Schedule.from_dict(designer.config_from_form(form)).to_dict()
    if source == SCHEDULE_SOURCES[2]:
        if "training.schedule" not in state:
            raise LrlabError("schedule: no LR Finder advice chosen yet (open one from the "
                             "LR Finder page first)")
        return state["training.schedule"]
    if source == SCHEDULE_SOURCES[3]:
        if schedule_file is None:
            raise LrlabError("schedule: upload a schedule file or pick another source")
        text = schedule_file.getvalue().decode("utf-8", errors="replace")
        return parse_schedule(text, source=schedule_file.name).to_dict()
    return None


if submitted:
    try:
        config = {
            "model": model, "variant": variant, "width": int(width) or None, "dataset": dataset,
            "data_root": data_root or None, "batch_size": int(batch_size),
            "epochs": int(epochs), "seed": int(seed), "precision": precision,
            "optimizer": {"name": optimizer, "lr": float(lr), "momentum": float(momentum),
                          "weight_decay": float(weight_decay)},
            "schedule": chosen_schedule(),
            "tricks": {
                "linear_scaling": linear_scaling, "warmup_epochs": int(warmup_epochs),
                "zero_gamma": zero_gamma, "no_bias_decay": no_bias_decay, "cosine": cosine,
                "label_smoothing": float(label_smoothing), "mixup": float(mixup),
                "distillation": {"teacher": teacher} if teacher else None,
            },
        }
        job_id = ui.submit("train", config)
    except LrlabError as exc:
        st.error(f"Not started: {exc}")
    else:
        st.query_params["job"] = str(job_id)

job = ui.job_in_url("train")
if job is not None:
    follower = ui.follower(job.id)

    @st.fragment(run_every=None if job.is_finished else monitor.LIVE_POLL_S)
    def live() -> None:
        current = follower.poll(store)
        st.subheader(f"Run #{current.id} — {ui.status_line(current.status)}")
        st.progress(*monitor.progress_line(current))
        if not current.is_finished and st.button("Cancel run", key="training.cancel"):
            store.request_cancel(current.id)
        if follower.step or follower.epoch:
            st.plotly_chart(training_figure([(f"#{current.id}", follower.all_series())]),
                            key="training.chart")
        elif not current.is_finished:
            st.caption("Waiting for the worker's first metrics…")
        if current.is_finished and not state.get(f"training.done.{current.id}"):
            state[f"training.done.{current.id}"] = True
            st.rerun()

    live()
    job = store.get(job.id)
    if job.is_finished:
        if job.error:
            st.error(job.error)
        summary = (job.result or {}).get("summary") or {}
        if summary:
            for column, (label, text) in zip(st.columns(4), monitor.summary_cards(summary),
                                             strict=True):
                column.metric(label, text)
        c = st.columns(3)
        c[0].download_button("Metrics (CSV)", monitor.metrics_csv(follower),
                             file_name=f"run-{job.id}-metrics.csv", mime="text/csv",
                             on_click="ignore")
        c[1].download_button("Metrics (JSON)", monitor.metrics_json(follower),
                             file_name=f"run-{job.id}-metrics.json",
                             mime="application/json", on_click="ignore")
        checkpoint = run_dir(job.id) / "checkpoint.pt"
        if checkpoint.exists():
            c[2].download_button("Model (checkpoint.pt)", checkpoint.read_bytes(),
                                 file_name=f"run-{job.id}-checkpoint.pt",
                                 mime="application/octet-stream", on_click="ignore")
