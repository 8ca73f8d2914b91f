"""Schedule Designer: build, preview, compare, export and import `lrlab.schedule/1` schedules."""

from __future__ import annotations

import json

import streamlit as st

from lrlab.core.errors import LrlabError
from lrlab.schedules import Schedule
from lrlab.schedules.importers import parse_any
from lrlab.schedules.io import parse_metric_series
from lrlab.schedules.noise_scale import DECAY_RULES
from lrlab.schedules.spec import KINDS, SETTINGS
from lrlab.schedules.targets import FORMS, TARGETS, Export, export
from lrlab.schedules.targets.exactness import APPROXIMATE, EXACT
from lrlab.web import designer, ui
from lrlab.web.plots import noise_figure, schedule_figure

P = designer.FORM_PREFIX  # session-state prefix of this page's widgets
SAVED = "designer.saved"  # list of {"name", "config"} kept for comparison
state = st.session_state

for key, value in designer.default_form().items():
    state.setdefault(P + key, value)
state.setdefault(SAVED, [])


def load_imported() -> None:
    """Uploader callback: a valid file fills the form; an invalid one leaves it as it was."""
    upload = state.get(P + "import")
    state.pop("designer.import_error", None)
    if upload is None:
        return
    try:
        schedule = parse_any(upload.getvalue().decode("utf-8", errors="replace"), upload.name,
                             total_steps=designer.form_total_steps(
                                 designer.form_from_session(state)))
        designer.load_into_session(state, schedule.to_dict())
        state["designer.import_ok"] = upload.name
    except LrlabError as exc:
        state["designer.import_error"] = str(exc)


@st.cache_data(max_entries=64, show_spinner=False)
def cached_export(config_json: str, target: str, form: str) -> Export:
    """An export is measured by running the target's schedule over the whole run (seconds for a
    100k-step PyTorch export): once per schedule, target and form, not on every rerun."""
    return export(Schedule.from_dict(json.loads(config_json)), target, form)


def field(name: str) -> None:
    """A setting's widget, drawn from its declaration (the schedule's or the length's)."""
    declared = SETTINGS.get(name) or designer.LENGTH_FIELDS[name]
    ui.field_widget(st, declared, P + name)


st.title("Schedule Designer")
st.caption("Pick a kind, tune it, and watch LR and momentum per step. Keep several to compare; "
           "export a config or PyTorch code.")

controls, output = st.columns([1, 2], gap="large")

with controls:
    with st.expander("Import a schedule (lrlab, Hugging Face, timm or Keras)"):
        st.file_uploader("Schedule file", type=["json", "yaml", "yml", "py"], key=P + "import",
                         on_change=load_imported,
                         help="An lrlab.schedule/1 file; TrainingArguments fields; timm "
                              "create_scheduler_v2 arguments; a Keras schedule's get_config() "
                              "JSON; or the Python lrlab's exports write (read for literal "
                              "values only). Schedules without a length of their own take the "
                              "form's total steps.")
        if "designer.import_error" in state:
            st.error(f"Could not import: {state['designer.import_error']}")
        elif "designer.import_ok" in state:
            st.success(f"Loaded {state['designer.import_ok']}")

    kind_names = list(KINDS)
    st.selectbox("Kind", kind_names, key=P + "kind", format_func=lambda k: KINDS[k].title,
                 help="The main phase's shape; warmup and hold come before it.",
                 on_change=designer.name_after_kind, args=(state,))
    kind = KINDS[state[P + "kind"]]
    st.caption(kind.summary)
    field("base_lr")

    st.radio("Length", designer.STEPS_MODES, key=P + "steps_mode", horizontal=False)
    mode = state[P + "steps_mode"]
    if mode == designer.STEPS_DIRECT:
        field("total_steps")
    else:
        field("epochs")
        if mode == designer.STEPS_FROM_EPOCHS:
            field("steps_per_epoch")
        else:
            field("dataset_size")
            field("batch_size")
            field("drop_last")

    st.markdown(f"**{kind.title} parameters**")
    for param in kind.fields:
        ui.field_widget(st, param, P + designer.field_key(kind.name, param))

    if kind.own_warmup:
        st.caption(f"{kind.title} carries its own warmup and momentum.")
    else:
        with st.expander("Warmup and hold", expanded=bool(state[P + "warmup.on"])):
            st.checkbox("Warmup", key=P + "warmup.on")
            for name in ("warmup.steps", "warmup.start_factor", "warmup.shape", "hold_steps"):
                field(name)
        with st.expander("Momentum", expanded=bool(state[P + "momentum.on"])):
            st.checkbox("Constant momentum", key=P + "momentum.on")
            field("momentum.value")
    with st.expander("Batch-size scaling", expanded=bool(state[P + "scaling.on"])):
        st.checkbox("Scale the base LR with the batch size", key=P + "scaling.on",
                    help="Linear rule (Goyal et al.) for SGD, square root for Adam-type.")
        for name in ("scaling.rule", "scaling.reference_batch", "scaling.batch"):
            field(name)

    metrics = metric_file = None
    if kind.name == "plateau":
        metric_file = st.file_uploader("Metric series (CSV, one value per step)",
                                       type=["csv", "txt"], key=P + "metric_file")
        if metric_file is None:
            st.caption("Previewing with an example validation loss that plateaus; upload "
                       "your own series to see where the LR would drop.")

form = {key: state[P + key] for key in designer.default_form()}
error = None
schedule = None
try:
    config = designer.config_from_form(form)
    schedule = Schedule.from_dict(config)
    if kind.name == "plateau":
        if metric_file is not None:
            metrics = parse_metric_series(
                metric_file.getvalue().decode("utf-8", errors="replace"), metric_file.name)
        else:
            metrics = designer.example_plateau_metric(schedule.total_steps)
    current = designer.preview(schedule, "current", metrics=metrics)
except LrlabError as exc:
    error = str(exc)
    current = None

with output:
    if error:
        st.error(error)
    name = st.text_input("Name", value=f"{kind.name}", key=P + "name",
                         label_visibility="collapsed", placeholder="name to keep it under")
    # buttons as wide as their words, side by side while they fit
    buttons = st.container(horizontal=True)
    if buttons.button("Keep for comparison", disabled=schedule is None):
        unique = designer.unique_name(name or kind.name, [s["name"] for s in state[SAVED]])
        state[SAVED].append({"name": unique, "config": schedule.to_dict(), "metrics": metrics})
    if buttons.button("Clear kept", disabled=not state[SAVED]):
        state[SAVED] = []
    ui.page_button(buttons, "Train with this schedule", "app_pages/training.py",
                   key="designer.train", disabled=schedule is None,
                   on_click=designer.train_with_designer, args=(state,),
                   help="The Training page with this schedule, stretched to the run's length")

    saved_names = [s["name"] for s in state[SAVED]]
    # No key: a newly kept schedule changes the options, which resets the selection to all.
    shown = st.multiselect("Overlay", saved_names, default=saved_names)
    view = st.columns(2)
    log_y = view[0].toggle("Log LR axis", key=P + "log_y")
    per_epoch = designer.form_steps_per_epoch(form) if schedule is not None else None
    # epochs on the x axis only where the form knows an epoch's length
    x_unit = view[1].radio("x axis", ["step", "epoch"], key=P + "x_unit",
                           horizontal=True) if per_epoch else "step"

    previews = [current] if current is not None else []
    for saved in state[SAVED]:
        if saved["name"] in shown:
            previews.append(designer.preview(Schedule.from_dict(saved["config"]), saved["name"],
                                             metrics=saved["metrics"]))
    if previews:
        st.plotly_chart(schedule_figure(previews, log_y=log_y, steps_per_epoch=per_epoch,
                                        x_unit=x_unit if per_epoch else "step"),
                        key="designer.chart")
        st.dataframe(designer.summary_table(previews), hide_index=True)
        with st.expander("Noise scale, momentum window and weight decay"):
            st.caption("Smith & Le: the noise scale g = η/(1−m)·(N/B−1) is what a k× larger "
                       "batch with a k× larger LR keeps: schedules with the same g train alike. "
                       "A schedule with a batch-scaling block is taken at its own batch. "
                       "Momentum averages about T = −1/ln m updates. The decay per update "
                       "shows how weight decay couples to the schedule: "
                       f"{'; '.join(f'{k}: {v}' for k, v in DECAY_RULES.items())}.")
            row = st.columns(len(designer.NOISE_FIELDS))
            for cell, (key, declared) in zip(row, designer.NOISE_FIELDS.items(), strict=True):
                ui.field_widget(cell, declared, P + key)
            decays = schedule is not None and kind.name in ("step", "multistep")
            if decays and st.button("Equivalent batch schedule", key="designer.batch_plan",
                                    help="Smith et al. 2018: increase the batch instead of "
                                         "decaying the LR, with the same noise scale; kept "
                                         "for comparison"):
                try:
                    plan, line = designer.batch_plan_of(schedule, form)
                except LrlabError as exc:
                    st.error(f"No batch plan: {exc}")
                else:
                    state[SAVED].append({"name": designer.unique_name(
                        f"batch plan of {name or kind.name}", saved_names),
                        "config": plan.to_dict(), "metrics": None})
                    state["designer.batch_plan_line"] = line
                    st.rerun()
            if "designer.batch_plan_line" in state:
                st.caption(state["designer.batch_plan_line"])
            curves = [designer.noise_curves(p, form) for p in previews]
            st.plotly_chart(noise_figure(previews, curves), key="designer.noise_chart")
            st.dataframe(
                designer.noise_rows(previews, curves),
                hide_index=True,
                column_config={k: st.column_config.NumberColumn(k, format="%.4g")
                               for k in ("g at the peak", "mean g", "final g")})

    if schedule is not None:
        st.subheader("Export")
        stem = (name or kind.name).replace(" ", "_")
        choose = st.columns([2, 1])
        target = choose[0].selectbox("Export to", list(TARGETS), key="designer.export_to",
                                     format_func=lambda t: TARGETS[t].title)
        export_form = choose[1].radio("Form", FORMS, horizontal=True, key="designer.export_form",
                               help="auto: the framework's own schedule when it is exact, "
                                    "else its table form fed lrlab's values")
        try:
            with st.spinner(f"Measuring the {TARGETS[target].title} export at every step..."):
                result = cached_export(json.dumps(schedule.to_dict()), target, export_form)
        except LrlabError as exc:
            st.error(f"Cannot export to {TARGETS[target].title}: {exc}")
        else:
            verdict = {EXACT: st.success, APPROXIMATE: st.warning}.get(
                result.exactness.label, st.info)
            verdict(result.exactness.sentence())
            if result.momentum:
                st.caption(f"Momentum: {result.momentum}")
            st.download_button(f"Download {TARGETS[target].title}", result.text,
                               file_name=f"{stem}_{result.filename}", mime=result.mime,
                               key="designer.download", on_click="ignore")
            with st.expander("Show the export"):
                language = {"text/x-python": "python", "application/json": "json",
                            "application/yaml": "yaml"}.get(result.mime)
                st.code(result.text, language=language)
