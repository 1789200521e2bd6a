"""The optimizer: the fused Adam kernel where torch has one, kept when a run resumes from a state saved without it."""
import copy

import pytest
import torch

from trainer.config import TrainConfig
from trainer.training.optimization import keep_optimizer_kernel, make_optimizer


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.SiLU(), torch.nn.Linear(7, 3))


def _train(model: torch.nn.Module, optimizer: torch.optim.Optimizer, steps: int, seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        loss = model(torch.randn(4, 5, generator=generator)).square().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


@pytest.mark.parametrize("name, kind", [("adamw", torch.optim.AdamW), ("adam", torch.optim.Adam)])
def test_the_optimizer_uses_the_fused_kernel_on_a_cpu(name, kind):
    optimizer = make_optimizer(_model(), TrainConfig(optimizer=name, lr=1e-3, weight_decay=0.01))
    assert type(optimizer) is kind
    assert optimizer.param_groups[0]["fused"] is True
    assert optimizer.param_groups[0]["lr"] == 1e-3 and optimizer.param_groups[0]["weight_decay"] == 0.01


def test_a_state_saved_without_the_fused_kernel_resumes_fused_and_trains_the_same():
    unfused_model = _model()
    unfused = torch.optim.AdamW(unfused_model.parameters(), lr=1e-2)
    _train(unfused_model, unfused, steps=3, seed=1)

    fused_model = _model()
    fused_model.load_state_dict(unfused_model.state_dict())
    fused = make_optimizer(fused_model, TrainConfig(lr=1e-2))
    saved = copy.deepcopy(unfused.state_dict())          # as a checkpoint holds it: not the live tensors
    keep_optimizer_kernel(fused, lambda: fused.load_state_dict(saved))
    assert fused.param_groups[0]["fused"] is True           # the saved state said foreach
    assert fused.state[next(fused_model.parameters())]["step"].item() == 3

    _train(unfused_model, unfused, steps=3, seed=2)
    _train(fused_model, fused, steps=3, seed=2)
    for a, b in zip(unfused_model.parameters(), fused_model.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
