"""qasr.quant.qat on the ``tiny`` model: distillation steps reduce the loss, stages, resumable checkpoints."""
from __future__ import annotations

from pathlib import Path

import torch

from qasr.data import collate
from qasr.model import build_model
from qasr.quant.api import quant_layers
from qasr.quant.qat import load_checkpoint, make_optimizer, make_student, qat_step, save_checkpoint, set_precision

torch.set_num_threads(1)


def _batch(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    feats = [torch.randn(36, 80, generator=g), torch.randn(30, 80, generator=g)]
    ids = [torch.randint(4, 50, (5,), generator=g).tolist(), torch.randint(4, 50, (3,), generator=g).tolist()]
    return collate(feats, ids, ["a", "b"])


def test_qat_steps_reduce_loss_and_resume(tmp_path: Path) -> None:
    torch.manual_seed(0)
    teacher = build_model("tiny", vocab_size=50).eval()
    student = make_student(teacher, "w4g64", stage_bits=8)
    assert {m.spec.bits for _, m in quant_layers(student)} == {8}
    set_precision(student, 4)
    bits = {n: m.spec.bits for n, m in quant_layers(student)}
    assert bits["encoder.transformer_layers.1.fc1"] == 4 and bits["decoder.fc_out"] == 8
    opt = make_optimizer(student, lr=1e-3, qparam_lr=1e-3)
    batch = _batch()
    losses = [qat_step(student, teacher, batch, opt, alpha=0.5)["loss"] for _ in range(12)]
    assert losses[-1] < 0.9 * losses[0], losses
    save_checkpoint(tmp_path / "ck.pt", student, opt, "w4g64", {"stage": 1, "step": 12, "epoch": 0})
    back, opt2, state = load_checkpoint(tmp_path / "ck.pt", teacher, "w4g64", 1e-3, 1e-3)
    assert state["step"] == 12
    student.eval(), back.eval()
    with torch.no_grad():
        args = (batch.feats, batch.lengths, batch.prev_tokens)
        assert torch.equal(student(*args), back(*args))
    qat_step(back, teacher, batch, opt2)  # the restored optimizer steps
