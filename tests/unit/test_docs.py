"""The README is a front door and the guides are current: its links lead somewhere, the tables the
schedules guide shows are the ones the code computes, and the Python quickstart runs as written."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_readme_is_a_front_door() -> None:
    assert len(README.splitlines()) <= 150
    for heading in ("## Set up on a fresh machine", "## Quickstart: the app",
                    "## Quickstart: the command line", "## Quickstart: Python", "## Guides"):
        assert heading in README
    assert README.count("```bash\nmake run\n```") == 1 and "```bash\nmake test\n```" in README


def test_every_linked_guide_exists() -> None:
    for folder, text in [(ROOT, README)] + [(ROOT / "docs", p.read_text(encoding="utf-8"))
                                            for p in (ROOT / "docs").glob("*.md")]:
        for target in re.findall(r"\]\(([^)#]+?)(?:#[^)]*)?\)", text):
            if not target.startswith(("http://", "https://")):
                assert (folder / target).exists(), f"{target} (linked from {folder})"


def test_the_schedule_guide_tables_are_the_computed_ones() -> None:
    from lrlab.schedules.targets import support_table

    guide = (ROOT / "docs" / "schedules.md").read_text(encoding="utf-8")
    assert support_table() in guide
    assert support_table(warmup=True) in guide


def test_the_python_quickstart_runs_as_written(capsys) -> None:
    block = re.search(r"## Quickstart: Python.*?```python\n(.*?)```", README, re.S).group(1)
    exec(compile(block, "README.md", "exec"), {})
    shown = capsys.readouterr().out
    assert "consensus:" in shown and "trust:" in shown
