"""What keeps a served app safe and polite: loopback by default, host paths confined when it serves
others, stale links answered in words, progress shown as reached, no error details in the
browser."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from lrlab.core.errors import LrlabError
from lrlab.core.paths import allowed_data_dirs, confine_path, host_paths
from lrlab.store import Store
from lrlab.web.monitor import job_from_link, jobs_from_link, progress_line
from lrlab.web.serve import find_app_script, serves_others

REPO = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize(
    ("address", "others"),
    [("127.0.0.1", False), ("127.0.0.2", False), ("localhost", False), ("::1", False),
     ("0.0.0.0", True), ("::", True), ("", True), (None, True), ("192.168.1.5", True),
     ("myhost.example", True)],
)
def test_only_loopback_counts_as_not_serving_others(address: str | None, others: bool) -> None:
    assert serves_others(address) is others


def test_streamlit_settings_listen_on_loopback_and_hide_error_details() -> None:
    settings = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())
    assert settings["server"]["address"] == "127.0.0.1"
    assert settings["client"]["showErrorDetails"] == "none"


def test_make_run_defaults_to_loopback() -> None:
    makefile = (REPO / "Makefile").read_text()
    assert "HOST ?= 127.0.0.1\n" in makefile and "--host $(HOST)" in makefile


def test_a_path_inside_an_allowed_folder_passes(tmp_path: Path) -> None:
    (tmp_path / "data" / "cifar").mkdir(parents=True)
    confine_path("data_root", str(tmp_path / "data" / "cifar"), [tmp_path / "data"])
    confine_path("data_root", str(tmp_path / "data"), [tmp_path / "data"])
    confine_path("data_root", None, [tmp_path / "data"])


@pytest.mark.parametrize("escape", ["../etc", "cifar/../../etc", "link"])
def test_a_path_that_leaves_the_allowed_folders_is_refused_naming_the_field(
    tmp_path: Path, escape: str
) -> None:
    allowed = tmp_path / "data"
    (allowed / "cifar").mkdir(parents=True)
    (tmp_path / "etc").mkdir()
    (allowed / "link").symlink_to(tmp_path / "etc")  # a symlink out counts as out
    with pytest.raises(LrlabError, match=r"^data_root: .* is outside the folders this app may "
                                         r"read .*LRLAB_DATA_DIRS"):
        confine_path("data_root", str(allowed / escape), [allowed.resolve()])


def test_allowed_folders_come_from_the_environment_or_default_to_home_and_data(
    lrlab_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert allowed_data_dirs() == [(lrlab_home / "data").resolve(), Path.home().resolve()]
    monkeypatch.setenv("LRLAB_DATA_DIRS", f"{tmp_path / 'a'}:{tmp_path / 'b'}")
    assert allowed_data_dirs() == [(tmp_path / "a").resolve(), (tmp_path / "b").resolve()]


def test_host_paths_are_the_data_folder_and_a_teacher_given_as_a_path() -> None:
    config = {"data_root": "/d", "tricks": {"distillation": {"teacher": "/runs/big"}}}
    assert host_paths(config) == {"data_root": "/d", "tricks.distillation.teacher": "/runs/big"}
    assert host_paths({"tricks": {"distillation": {"teacher": "12"}}}) == {}  # a job id
    assert host_paths({"data_root": None, "tricks": {"distillation": None}}) == {}


def test_the_app_script_is_found_or_named(tmp_path: Path) -> None:
    assert find_app_script(None) == REPO / "app.py"
    with pytest.raises(LrlabError, match=r"^--script: app entry not found .*nope\.py"):
        find_app_script(tmp_path / "nope.py")


@pytest.fixture
def store(lrlab_home: Path) -> Store:
    with Store() as s:
        yield s


def test_a_job_link_is_a_job_or_a_sentence(store: Store) -> None:
    find = store.submit("find", {"model": "small_cnn"})
    assert job_from_link(store, None, "find") == (None, None)
    job, problem = job_from_link(store, str(find), "find")
    assert job.id == find and problem is None
    assert job_from_link(store, "999", "find") == (
        None, "Job 999 does not exist; it may have been deleted.")
    assert job_from_link(store, "1e3", "train") == (
        None, "The link's job='1e3' is not a job number.")
    assert job_from_link(store, str(find), "train") == (
        None, f"Job {find} is a LR range test, not a short training run; open it from the Runs "
              "page.")


def test_a_runs_link_keeps_the_jobs_that_exist_and_names_the_rest() -> None:
    assert jobs_from_link("3,5", {3, 5, 7}) == ([3, 5], None)
    assert jobs_from_link(None, {3}) == ([], None)
    assert jobs_from_link("3,8,9,x", {3}) == (
        [3], "The link names 'x': not a job number; jobs 8, 9 do not exist; they may have been "
             "deleted.")


def test_progress_of_a_stopped_job_is_how_far_it_got_in_its_status_colour(store: Store) -> None:
    job_id = store.submit("find", {"model": "small_cnn"})
    store.claim("w")
    store.append_metrics(job_id, [], progress=(525 / 4400, "step 525/4400"))
    fraction, text = progress_line(store.get(job_id), now=store.get(job_id).started + 10)
    assert fraction == pytest.approx(525 / 4400) and text.startswith("step 525/4400 · ETA ")
    store.finish(job_id, "failed", error="worker died")
    assert progress_line(store.get(job_id)) == (pytest.approx(525 / 4400), ":red[failed at 12%]")
    done = store.submit("find", {"model": "small_cnn"})
    store.claim("w")
    store.finish(done, "succeeded")
    assert progress_line(store.get(done)) == (1.0, ":green[succeeded at 100%]")
