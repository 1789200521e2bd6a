"""What the Train tab says a time budget buys before Start, and how a finished run compares (Qt-free, tested
without widgets). The figures come from the measured curve (trainer.evaluation.budget_curve) and, when this
computer has trained the same preset at the same image size before, from that run's speed."""
from __future__ import annotations

from trainer.config import RunConfig
from trainer.evaluation.budget_curve import BudgetCurve, quality_words
from trainer.training.measured_speed import MeasuredSpeed


def curve_applies(curve: BudgetCurve | None, config: RunConfig) -> bool:
    """The curve was measured for this kind of run: an image folder, its preset, image size and batch size."""
    return (curve is not None and not config.data.is_synthetic
            and curve.applies_to(config.model.preset, config.model.image_size)
            and config.train.batch_size == curve.batch_size)


def budget_expectation(curve: BudgetCurve | None, config: RunConfig, speed: MeasuredSpeed | None) -> str:
    """'10 min ≈ 2,000 steps at this computer's speed (...): expect faces that keep the person about half the time
    (PSNR ≈ 23 dB).' '' when there is nothing true to say (no curve, no budget, the built-in faces)."""
    minutes = config.train.time_budget_minutes
    if curve is None or minutes <= 0 or config.data.is_synthetic:
        return ""
    if not curve_applies(curve, config):
        return (f"The measured time–quality curve is for the {curve.preset} preset at {curve.image_size} × "
                f"{curve.image_size}, batch size {curve.batch_size}: it does not apply to these settings.")
    steps = curve.steps_for(minutes, speed.images_per_s if speed else None)
    return f"{minutes:g} min ≈ {steps:,} steps {_speed_source(curve, speed)}: {_expect_at(curve, steps)}."


def _speed_source(curve: BudgetCurve, speed: MeasuredSpeed | None) -> str:
    if speed is not None:
        return f"at this computer's speed ({speed.images_per_s:,.0f} images/s in run {speed.run_name})"
    return (f"at the speed of the machine the curve was measured on ({machine_text(curve.machine)}; no run of "
            f"this preset on this computer yet)")


def _expect_at(curve: BudgetCurve, steps: int) -> str:
    if steps < curve.first_steps:
        first = quality_words(curve.quality_at(curve.first_steps))
        return (f"fewer than the shortest measured run ({curve.first_steps:,} steps), which gave {first}; "
                f"expect less")
    if steps > curve.last_steps:
        last = quality_words(curve.quality_at(curve.last_steps))
        return (f"more than the longest measured run ({curve.last_steps:,} steps), which gave {last}; "
                f"expect at least that")
    return f"expect {quality_words(curve.quality_at(steps))}"


def machine_text(machine: dict) -> str:
    """'2 threads on 2 cores, torch 2.4.1'."""
    parts = []
    if machine.get("threads"):
        on = f" on {machine['cores']} cores" if machine.get("cores") else ""
        threads = machine["threads"]
        parts.append(f"{threads} thread{'' if threads == 1 else 's'}{on}")
    if machine.get("device") and machine["device"] != "cpu":
        parts.append(str(machine["device"]))
    if machine.get("torch"):
        parts.append(f"torch {machine['torch']}")
    return ", ".join(parts) or "unknown machine"


def run_comparison(curve: BudgetCurve | None, config: RunConfig, steps: int, final_eval: dict | None) -> str:
    """'PSNR 24.1 dB, expected ≈ 23.5 at 2,100 steps; SSIM 0.741, expected ≈ 0.712.' '' when the curve does not
    apply or the run has no final evaluation."""
    if not curve_applies(curve, config) or not final_eval or "psnr" not in final_eval or steps <= 0:
        return ""
    psnr, ssim = float(final_eval["psnr"]), final_eval.get("ssim")
    measured = f"PSNR {psnr:.1f} dB" + (f", SSIM {float(ssim):.3f}" if ssim is not None else "")
    if not curve.first_steps <= steps <= curve.last_steps:
        return (f"{measured} after {steps:,} steps; the measured curve spans {curve.first_steps:,}–"
                f"{curve.last_steps:,} steps, so there is no expectation to compare with.")
    expected = curve.quality_at(steps)
    text = f"PSNR {psnr:.1f} dB, expected ≈ {expected['psnr']:.1f} at {steps:,} steps"
    if ssim is not None:
        text += f"; SSIM {float(ssim):.3f}, expected ≈ {expected['ssim']:.3f}"
    return text + "."
