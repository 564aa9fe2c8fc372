"""A shipped package survives a kill at any moment: results/readout/<name> is the old package or the new
one, whole, during and after the recovery run (amygdala_readout.shipping)."""

import os

import pytest
import yaml
from conftest import built_once, copy_run, run_snakemake

from amygdala_readout import shipping
from amygdala_readout.shipping import FAULT_ENV

PACKAGE_FILES = ("readout.safetensors", "readout.json", "quality.json")
SHIPPED = ("pooled", "best")
# every job that writes a package, before, during and after its writes, in the order the jobs run
FAULTS = (
    "package_readout:during",
    "ship_readout:before",
    "ship_readout:during",
    "ship_readout:after",
    "publish_readout:before",
    "publish_readout:during",
    "publish_readout:after",
)


def package_bytes(folder):
    return tuple((folder / name).read_bytes() for name in PACKAGE_FILES)


def change_packages(workdir):
    """A config change that changes every package (readout.json records the config) and nothing upstream:
    the device only changes where extraction runs, so the activations stay."""
    config_path = workdir / "config.yaml"
    config = yaml.safe_load(config_path.read_text())
    config_path.write_text(yaml.safe_dump(config | {"device": "cpu"}))


@pytest.fixture
def changed_reference(finished, tmp_path_factory):
    """A clean run of the changed config, from the same finished run."""

    def build(path):
        run = copy_run(finished, path / "run")
        change_packages(run)
        run_snakemake(run)

    return built_once(tmp_path_factory, "changed_packages", build) / "run"


def test_a_kill_at_any_write_leaves_each_package_whole_old_or_new(finished, changed_reference, tmp_path):
    run = copy_run(finished, tmp_path / "run")
    old = {name: package_bytes(finished / "results/readout" / name) for name in SHIPPED}
    new = {name: package_bytes(changed_reference / "results/readout" / name) for name in SHIPPED}
    assert all(old[name] != new[name] for name in SHIPPED)
    change_packages(run)
    for fault in FAULTS:  # each run dies at the next point; each is the recovery run of the one before
        result = run_snakemake(run, check=False, env=os.environ | {FAULT_ENV: fault})
        assert result.returncode != 0, f"{fault}: the run did not reach this point"
        for name in SHIPPED:
            assert (run / "results/readout" / name).is_symlink()
            assert package_bytes(run / "results/readout" / name) in (old[name], new[name]), f"{name} after {fault}"
    run_snakemake(run)
    assert {name: package_bytes(run / "results/readout" / name) for name in SHIPPED} == new
    leftovers = [p.name for p in (run / "results/packages").iterdir() if p.name.startswith(".")]
    assert leftovers == []
    assert len(list((run / "results/packages").glob("pooled-*"))) == 2  # the new one, and the one it replaced


def test_a_package_folder_from_before_links_is_swapped_for_a_link_in_one_step(tmp_path):
    legacy = tmp_path / "readout" / "best"
    legacy.mkdir(parents=True)
    (legacy / "readout.json").write_text("old")
    version = shipping.ship(
        {"readout.json": b"new"}, legacy, tmp_path / "packages", job="test", check=lambda folder: None
    )
    assert legacy.is_symlink() and (legacy / "readout.json").read_bytes() == b"new"
    assert os.readlink(legacy) == os.path.join("..", "packages", version.name)  # relative: results/ can move
    assert sorted(p.name for p in legacy.parent.iterdir()) == ["best"]


def test_a_package_that_fails_its_check_is_never_pointed_at(tmp_path):
    link = tmp_path / "readout" / "pooled"
    shipping.ship({"readout.json": b"good"}, link, tmp_path / "packages", job="test", check=lambda folder: None)

    def refuse(folder):
        raise ValueError("broken package")

    with pytest.raises(ValueError, match="broken package"):
        shipping.ship({"readout.json": b"bad"}, link, tmp_path / "packages", job="test", check=refuse)
    assert (link / "readout.json").read_bytes() == b"good"
