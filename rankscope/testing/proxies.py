"""The proxy contract: finite scores on every edge, the per-rank and zero-at-init claims, and a
model left as it was found."""

from __future__ import annotations

import pytest


def score_tiny(proxy: str, *, b_init: str = "random", seed: int = 0, n_batches: int = 2, rank: int = 4,
               space: str = "shortcuts"):
    """Score every edge of a tiny random BERT classifier (``space`` at ``rank``) with ``proxy``.

    ``b_init="zero"`` keeps fresh LoRA (B = 0); ``"random"`` draws B ~ N(0, 0.1²) so that
    B-dependent proxies are non-zero. Returns ``(scores, model, handle, batches, objective)``;
    the handle is still attached."""
    import torch

    import rankscope as rs
    from rankscope.harness.objectives import SequenceClassification
    from rankscope.scoring import get_proxy, score_edges
    from rankscope.tasks import get_task_spec

    torch.manual_seed(seed)
    model, _ = rs.load_model("tiny-bert", 2)
    sp = rs.build_space(space, model)
    handle = rs.attach(model, sp, rs.Allocation.uniform(sp, rank), seed=seed)
    if b_init == "random":
        g = torch.Generator().manual_seed(seed + 1)
        with torch.no_grad():
            for a in handle.adapters.values():
                a.B.copy_(torch.randn(a.B.shape, generator=g) * 0.1)
    g = torch.Generator().manual_seed(seed + 2)
    batches = []
    for _ in range(n_batches):
        ids = torch.randint(1000, 5000, (4, 9), generator=g)
        mask = torch.ones_like(ids)
        mask[0, -3:] = 0
        batches.append({"input_ids": ids, "attention_mask": mask, "labels": torch.randint(0, 2, (4,), generator=g)})
    objective = SequenceClassification(get_task_spec("rte"))
    result = score_edges(model, handle, objective, batches, [get_proxy(proxy)], seed=seed)
    return result.scores[proxy], model, handle, batches, objective


class ProxyContract:
    """Subclass and set ``proxy`` (a registered name) to check a proxy plugin. It must:

    * give a finite score to every attached edge, LoRA and shortcut alike;
    * give lists of ``max_rank`` non-negative values when ``per_rank``;
    * be identically zero at B = 0 when it claims ``zero_at_init`` (and not otherwise);
    * be deterministic, and leave the model as it found it (weights, grads, flags, mode).
    """

    proxy: str = ""
    nonzero_at_init: bool = True  # set False for proxies that may legitimately tie at init

    @pytest.fixture(scope="class")
    @classmethod
    def scored(cls):
        return score_tiny(cls.proxy, b_init="random")

    def test_every_edge_scored_and_finite(self, scored):
        import math

        scores, _, handle, _, _ = scored
        assert set(scores) == set(handle.adapters)
        kinds = {handle.space.edge(e).kind for e in scores}
        assert kinds == {"lora", "shortcut"}
        for eid, s in scores.items():
            vals = s if isinstance(s, list) else [s]
            assert all(math.isfinite(v) for v in vals), f"{self.proxy} gave {s} on {eid}"

    def test_per_rank_values(self, scored):
        from rankscope.scoring import get_proxy

        scores, _, handle, _, _ = scored
        if not get_proxy(self.proxy).per_rank:
            assert all(isinstance(s, float) for s in scores.values())
            return
        for eid, s in scores.items():
            assert len(s) == handle.space.edge(eid).max_rank
            assert all(v >= 0 for v in s)

    def test_zero_at_init_claim(self):
        from rankscope.scoring import get_proxy

        if not get_proxy(self.proxy).zero_at_init and not self.nonzero_at_init:
            pytest.skip(f"{self.proxy} makes no claim about B = 0")
        scores = score_tiny(self.proxy, b_init="zero")[0]
        flat = [v for s in scores.values() for v in (s if isinstance(s, list) else [s])]
        if get_proxy(self.proxy).zero_at_init:
            assert all(v == 0 for v in flat), f"{self.proxy} claims zero at init but gave non-zero scores"
        elif self.nonzero_at_init:
            assert any(v != 0 for v in flat), f"{self.proxy} is zero at init; set zero_at_init = True"

    def test_deterministic(self, scored):
        again = score_tiny(self.proxy, b_init="random")[0]
        assert again == scored[0]

    def test_leaves_model_unchanged(self, scored):
        import torch

        from rankscope.harness.objectives import SequenceClassification
        from rankscope.scoring import get_proxy, score_edges
        from rankscope.tasks import get_task_spec

        _, model, handle, batches, _ = scored
        before = {n: p.detach().clone() for n, p in model.named_parameters()}
        flags = {n: p.requires_grad for n, p in model.named_parameters()}
        masks = {e: a.mask.tolist() for e, a in handle.adapters.items()}
        with torch.no_grad():
            logits = model.eval()(**batches[0]).logits
        model.train()
        score_edges(model, handle, SequenceClassification(get_task_spec("rte")), batches, [get_proxy(self.proxy)])
        assert model.training
        for n, p in model.named_parameters():
            assert torch.equal(p, before[n]), f"{self.proxy} changed {n}"
            assert p.grad is None, f"{self.proxy} left a gradient on {n}"
            assert p.requires_grad == flags[n]
        assert model.rankscope_adapters is handle.adapters  # still attached: same adapters, masks, function
        assert {e: a.mask.tolist() for e, a in handle.adapters.items()} == masks, f"{self.proxy} changed a mask"
        with torch.no_grad():
            assert torch.equal(model.eval()(**batches[0]).logits, logits), f"{self.proxy} changed the function"
