"""The lines train-and-export prints about a run, from its `RunReport`, in the order they happen."""

from __future__ import annotations

from pathlib import Path

from inference.core.model_repository import CURVES_FILE, HISTORY_FILE
from training.calibration import Calibration
from training.run_report import Export, RunReport
from training.variant_training import Result

NO_EXPORT = "no ONNX export: it exports the concise variant (use --variant concise or both)"


def data_line(source: Path, train: int, validation: str, test: int, device: str) -> str:
    return f"data: {source}  train {train}, validation on {validation}, test {test}; device: {device}"


def summary_table(results: list[Result]) -> str:
    """One row per variant; with --corrections also the test accuracy against the corrected labels."""
    corrected = any(r.test_acc_corrected is not None for r in results)
    fitted = any(r.calibration.temperature != 1.0 for r in results)
    head = (
        f"{'variant':<8} {'epochs':>6} {'train loss':>10} {'val loss':>9} {'val acc':>8} {'test acc':>8}"
        + (f" {'corrected':>9}" if corrected else "")
        + f" {'test ECE':>8}"
        + (f" {'T':>6} {'ECE cal':>8}" if fitted else "")
        + f" {'seconds':>8}"
    )
    rows = [head, "-" * len(head)]
    for r in results:
        h = r.history
        rows.append(
            f"{r.variant:<8} {len(h.train_loss):>6} {h.train_loss[-1]:>10.4f} {h.val_loss[-1]:>9.4f} "
            f"{h.val_acc[-1]:>8.4f} {r.test_acc:>8.4f}"
            + (f" {r.test_acc_corrected:>9.4f}" if corrected else "")
            + f" {r.calibration.test_before.ece:>8.4f}"
            + (f" {r.calibration.temperature:>6.3f} {r.calibration.test_after.ece:>8.4f}" if fitted else "")
            + f" {r.seconds:>8.2f}"
        )
    if corrected:
        rows.append("test acc: against the published test labels; corrected: with the test verdicts applied")
    return "\n".join(rows)


def calibration_line(result: Calibration, held_out: int) -> str:
    """One line for train-and-export: T, and the test ECE it gives, worse included.

    On the tuned recipe T lands near 1 and the test ECE moves by less than its own noise (a
    paired bootstrap over the 10,000 test images: +-0.002-0.004), sometimes up; the line says
    so rather than let "calibrated" promise a gain the test set did not show.
    """
    before, after = result.test_before.ece, result.test_after.ece
    verdict = "" if after <= before else "; higher than without T on the test set"
    return (
        f"calibration: T = {result.temperature:.4f} fitted on {held_out} held-out images; "
        f"test ECE ({len(result.test_before.count)} bins) {before:.4f} -> {after:.4f}{verdict}"
    )


def accuracy_change(new: float, previous: float | None, version: int | None) -> str:
    """The exported model's test accuracy beside the newest earlier version's, so a worse model
    never becomes the one served silently."""
    if version is None:
        return f"exported model's test accuracy: {new:.4f} (the first version: none earlier to compare with)"
    if previous is None:
        return f"exported model's test accuracy: {new:.4f} (version {version} before it records no accuracy)"
    verdict = (
        f"; version {version} was better: it stays in the repository, but the new version is the one served"
        if new < previous
        else ""
    )
    return (
        f"exported model's test accuracy: {new:.4f}, version {version} before it: {previous:.4f} "
        f"({new - previous:+.4f}){verdict}"
    )


def export_line(export: Export) -> str:
    return (
        f"exported {export.model_file} as version {export.version} (onnxruntime vs PyTorch on the test set: "
        f"max |Δp| = {export.max_diff:.1e}, same predictions)"
    )


def outputs_line(folder: Path) -> str:
    return f"weights, history and curves: {folder}/ ({HISTORY_FILE}, {CURVES_FILE})"


def report_lines(report: RunReport) -> list[str]:
    """Everything after the data line (which `run` hands out before training), as far as the run got."""
    lines = []
    if report.results:
        lines.append(summary_table(report.results))
        if report.calibration_held_out is not None:
            lines.append(calibration_line(report.results[-1].calibration, report.calibration_held_out))
        concise = report.by_variant().get("concise")
        if concise is None:
            lines.append(NO_EXPORT)
        elif report.earlier is not None:
            lines.append(accuracy_change(concise.test_acc, report.earlier.accuracy, report.earlier.version))
    if report.export is not None:
        lines.append(export_line(report.export))
    if report.folder is not None:
        lines.append(outputs_line(report.folder))
    lines += [line for line in (report.label_issues, report.next_step) if line is not None]
    return lines
