import numpy as np

from amygdala_readout.plots import cluster_order, cosine_heatmap


def test_clustering_puts_near_duplicate_directions_side_by_side(tmp_path):
    rng = np.random.default_rng(0)
    base = rng.normal(size=(3, 16))
    # rows 0, 3 are one family, 1, 4 another, 2, 5 a third: interleaved on purpose
    directions = np.vstack([base, base + rng.normal(size=(3, 16)) * 0.05])
    order = list(cluster_order(directions))
    assert sorted(order) == list(range(6))
    for a, b in ((0, 3), (1, 4), (2, 5)):
        assert abs(order.index(a) - order.index(b)) == 1
    cosine_heatmap({4: directions}, [f"c{i}" for i in range(6)], tmp_path / "cos.png", "title")
    assert (tmp_path / "cos.png").read_bytes()[:4] == b"\x89PNG"
