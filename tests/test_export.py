"""Taking a model elsewhere: ONNX and TorchScript graphs of the decoder and encoder (`vae-train export --format`),
the public API for scripts (trainer.api), and the README's examples of both."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from trainer.api import load_model
from trainer.cli import main
from trainer.models import export as export_module
from trainer.models.export import ExportCheckFailed, export_graphs
from trainer.package import install_command
from trainer.resources import default_checkpoint

REPO = Path(__file__).resolve().parents[1]
LIMIT = 1e-4


@pytest.fixture(scope="module")
def bundled_exports(tmp_path_factory):
    """The bundled model's graphs in both formats, written once through the command line."""
    folder = tmp_path_factory.mktemp("exported")
    for fmt in ("onnx", "torchscript"):
        assert main(["export", str(default_checkpoint()), str(folder), "--format", fmt]) == 0
    return folder


def test_onnx_graphs_of_the_bundled_model_match_pytorch_with_named_io_and_any_batch(bundled_exports):
    import onnxruntime

    model = load_model(default_checkpoint())
    decoder = onnxruntime.InferenceSession(str(bundled_exports / "decoder.onnx"), providers=["CPUExecutionProvider"])
    (latent,), (image,) = decoder.get_inputs(), decoder.get_outputs()
    assert (latent.name, image.name) == ("latent", "image")
    assert isinstance(latent.shape[0], str) and latent.shape[1] == model.latent_dim      # a free batch size
    for batch in (1, 7):
        z = torch.randn(batch, model.latent_dim, generator=torch.Generator().manual_seed(batch))
        with torch.inference_mode():
            expected = model.decode(z).numpy()
        (got,) = decoder.run(None, {"latent": z.numpy()})
        assert got.shape == (batch, 3, 64, 64)
        assert np.abs(got - expected).max() < LIMIT
    encoder = onnxruntime.InferenceSession(str(bundled_exports / "encoder.onnx"), providers=["CPUExecutionProvider"])
    assert [i.name for i in encoder.get_inputs()] == ["image"]
    assert [o.name for o in encoder.get_outputs()] == ["mean", "logvar"]
    images = torch.rand(3, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        mean, logvar = model.encode(images)
    got_mean, got_logvar = encoder.run(None, {"image": images.numpy()})
    assert np.abs(got_mean - mean.numpy()).max() < LIMIT and np.abs(got_logvar - logvar.numpy()).max() < LIMIT


def test_torchscript_graphs_of_the_bundled_model_match_pytorch_and_carry_only_their_weights(bundled_exports):
    model = load_model(default_checkpoint())
    decoder = torch.jit.load(str(bundled_exports / "decoder.torchscript.pt"))
    z = torch.randn(6, model.latent_dim, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        assert (decoder(z) - model.decode(z)).abs().max().item() < LIMIT
    decoder_weights = sum(p.numel() for p in decoder.parameters())
    assert decoder_weights == sum(p.numel() for name, p in model.named_parameters()
                                  if not name.startswith(("encoder.", "to_latent.")))
    encoder = torch.jit.load(str(bundled_exports / "encoder.torchscript.pt"))
    images = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    with torch.inference_mode():
        mean, logvar = encoder(images)
        assert (mean - model.encode(images)[0]).abs().max().item() < LIMIT


def test_the_export_prints_its_check_against_pytorch(tmp_path, tiny_checkpoint, capsys):
    assert main(["export", str(tiny_checkpoint), str(tmp_path / "ts"), "--format", "torchscript"]) == 0
    printed = capsys.readouterr().out
    assert len(re.findall(r"largest difference from PyTorch \d\.\de[-+]\d\d", printed)) == 2
    assert "latent -> image" in printed and "image -> mean, logvar" in printed


def test_an_autoencoder_encoder_graph_outputs_its_code(tmp_path, one_torch_thread):
    from conftest import tiny_config
    from trainer.models.networks import build_model

    model = build_model(tiny_config(tmp_path, family="ae").model)
    written = export_graphs(model, tmp_path / "ae", "torchscript")
    assert [(g.path.name, g.inputs, g.outputs) for g in written] == [
        ("decoder.torchscript.pt", ("latent",), ("image",)), ("encoder.torchscript.pt", ("image",), ("code",))]
    code = torch.jit.load(str(written[1].path))(torch.rand(3, 3, 32, 32))
    assert code.shape == (3, model.latent_dim)


def test_a_graph_that_differs_from_pytorch_is_not_kept(tmp_path, monkeypatch, one_torch_thread):
    from conftest import tiny_config
    from trainer.models.networks import build_model

    monkeypatch.setattr(export_module, "_largest_difference", lambda graph, run, generator: 0.5)
    with pytest.raises(ExportCheckFailed, match="differs from the PyTorch model by 5.00e-01"):
        export_graphs(build_model(tiny_config(tmp_path).model), tmp_path / "out", "torchscript")
    assert list((tmp_path / "out").iterdir()) == []          # no graph, no temporary file


def test_onnx_export_without_its_packages_refuses_in_one_line_with_the_install_command(tmp_path, monkeypatch,
                                                                                       capsys):
    real_find_spec = export_module.importlib.util.find_spec
    monkeypatch.setattr(export_module.importlib.util, "find_spec",
                        lambda name, *a: None if name == "onnxscript" else real_find_spec(name, *a))
    out = tmp_path / "graphs"
    assert main(["export", str(default_checkpoint()), str(out), "--format", "onnx"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "onnxscript" in error and install_command("onnx") in error
    assert not out.exists()


def test_the_default_export_is_still_the_slim_checkpoint(tmp_path, tiny_checkpoint):
    out = tmp_path / "slim.pt"
    assert main(["export", str(tiny_checkpoint), str(out)]) == 0
    assert "optimizer_state" not in torch.load(out, weights_only=True)


def _readme_python_blocks(heading: str) -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split(heading, 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def test_the_readmes_python_examples_run_as_written(bundled_exports, tmp_path):
    """The README's script examples, run in a folder holding `exported/` (the README's export command's output)."""
    (tmp_path / "exported").symlink_to(bundled_exports, target_is_directory=True)
    blocks = _readme_python_blocks("## Use a model in your own code")
    assert len(blocks) == 2 and all(len(block.strip().splitlines()) <= 6 for block in blocks)
    for block in blocks:
        done = subprocess.run([sys.executable, "-c", block], cwd=tmp_path, capture_output=True, text=True,
                              timeout=300, env={**os.environ, "PYTHONPATH": str(REPO)})
        assert done.returncode == 0, done.stderr
    assert (tmp_path / "faces.png").is_file() and (tmp_path / "onnx_faces.npy").is_file()
    assert np.load(tmp_path / "onnx_faces.npy").shape == (4, 3, 64, 64)
