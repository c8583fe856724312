"""The analogue figures contain data: finite values and one series per method (as the notebook
tests check the notebooks), drawn from a smoke-size measurement."""

import math
import re

import jax
import pytest

from bounds.judging import rules
from bounds.running.suite import get_suite
from figures import heterogeneity_map
from sim.studies import heterogeneity as het


@pytest.fixture(scope="module")
def smoke_map():
    return het.measure(get_suite("smoke").heterogeneity, key=jax.random.key(2, impl="rbg"))


def test_the_heterogeneity_map_figure_has_one_series_per_method(smoke_map, tmp_path, monkeypatch):
    drawn = {}
    real = heterogeneity_map.save_figure

    def spy(fig, out_dir, name):
        drawn[name] = [[line.get_label() for line in ax.containers] for ax in fig.axes]
        drawn["y"] = [y for ax in fig.axes for c in ax.containers for y in c.lines[0].get_ydata()]
        return real(fig, out_dir, name)

    monkeypatch.setattr(heterogeneity_map, "save_figure", spy)
    paths = heterogeneity_map.make(smoke_map, [], tmp_path)
    assert sorted(p.name for p in paths) == ["heterogeneity_map.md", "heterogeneity_map.png"]
    assert all(labels == list(het.MAP_METHODS) for labels in drawn["heterogeneity_map"])
    assert drawn["y"] and all(math.isfinite(y) for y in drawn["y"])


def test_the_heterogeneity_map_table_has_no_non_finite_value(smoke_map, tmp_path):
    text = heterogeneity_map.make(smoke_map, [], tmp_path)[0].read_text()
    assert not re.search(r"\b(nan|inf)\b", text, re.IGNORECASE)
    rows = [line for line in text.splitlines() if line.startswith("| c=")]
    assert len(rows) == len(het.map_table(smoke_map, rules.mean_ci))
