"""The plain matplotlib helpers that panels and notebooks share."""
import matplotlib

matplotlib.use("Agg")

import base64

import numpy as np
import pytest
from matplotlib.figure import Figure

from workbench.panels.plots import (figure_to_output, plot_confusion_matrix, plot_digits,
                                    plot_history, plot_predicted_vs_true)
from workbench.training import History


def test_confusion_matrix_counts_true_rows_and_predicted_columns():
    ax = Figure().subplots()
    plot_confusion_matrix(["a", "b", "b", "b"], ["a", "b", "a", "b"], ["a", "b"], ax)
    counts = ax.images[0].get_array()
    np.testing.assert_array_equal(counts, [[1, 0], [1, 2]])
    assert sorted(t.get_text() for t in ax.texts) == ["1", "1", "2"]


def test_history_and_predicted_vs_true_draw_lines():
    history = History()
    for epoch in (1, 2, 3):
        history.append(epoch, {"loss": 1 / epoch, "val_loss": 1.5 / epoch})
    ax = Figure().subplots()
    plot_history(history, ax)
    assert [line.get_label() for line in ax.lines] == ["loss", "validation loss"]
    ax = Figure().subplots()
    plot_predicted_vs_true([1, 2, 3], [1.1, 1.9, 3.2], ax)
    assert len(ax.collections) == 1 and ax.get_xlabel() == "true"


def test_plot_digits_and_its_errors():
    fig = plot_digits(np.zeros((3, 64)), titles=["0", "1", "2"], fig=Figure())
    assert len(fig.axes) == 3 and fig.axes[2].get_title() == "2"
    with pytest.raises(ValueError, match="square number of pixels"):
        plot_digits(np.zeros((2, 10)), fig=Figure())
    with pytest.raises(ValueError, match="2 titles for 3 images"):
        plot_digits(np.zeros((3, 64)), titles=["a", "b"], fig=Figure())


def test_figure_to_output_is_a_png_record():
    fig = Figure()
    fig.subplots().plot([0, 1])
    record = figure_to_output(fig)
    assert record["output_type"] == "display_data"
    assert base64.b64decode(record["data"]["image/png"]).startswith(b"\x89PNG")
