"""Zero-cost proxies (HeteroLoRA; docs/architecture.md, "HeteroLoRA"), one small file each, registered through
the ``rankscope.proxies`` entry-point group and listed by ``rankscope ls proxies``.

=================== =========================================== ============ ===============
proxy               score                                       zero at B=0  extra passes
=================== =========================================== ============ ===============
grad_norm           Σ‖∇θ‖_F                                     no           —
snip                Σ|θ ⊙ ∇θ|                                   yes          —
synflow             Σ|θ ⊙ ∇θ R|, |weights|, ones-embeds, loss   yes          1 batch
synflow_canonical   Tanaka et al.: R = 1ᵀf(1), data-free, f64   yes          1 forward
fisher              ½ Σ_c mean_i (Σ_t u·∂L/∂u)²  (bottleneck)   yes          —
grasp               −Σ θ ⊙ Hg                                   no           K (HVP)
jacob_cov           NASWOT on per-example ∇B                    no           —
constant            1 (random tie-break: random allocation)     —            —
alpha_test          smallest α keeping the metric (ablation)    —            ~4·|E|·K fwd
spectral            σ_k(∂L/∂ΔW), per rank                       no           —
=================== =========================================== ============ ===============

Write your own by subclassing :class:`rankscope.scoring.Proxy` and registering it under
``[project.entry-points."rankscope.proxies"]``; ``rankscope.testing.ProxyContract`` checks it.
"""
