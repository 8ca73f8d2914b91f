"""The LR range test job ("find"): lrlab.finder.job sweeps the setup and analyses the curve."""

from lrlab.jobs.kinds.declaration import Figure, Headline, JobKind

KIND = JobKind(
    name="find", title="LR range test", short="range test",
    validate="lrlab.finder.job:validate_config", run="lrlab.finder.job:run_from_config",
    warm_up="lrlab.finder.job:warm_up",
    setup_at="setup",  # a flat lrlab.range_test/1 config is its own setup
    headlines=(Headline("consensus LR", ("suggestions", "consensus"), words="LR"),
               Headline("trust", ("trust", "level"), text=True)),
    figures=(Figure("consensus LR", ("suggestions", "consensus")),
             Figure("trust", ("trust", "level")), Figure("verdict", ("trust", "verdict"))),
    page="finder",
)
