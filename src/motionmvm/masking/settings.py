"""From the `masking` section of params.yaml to a strategy's keyword arguments."""
from __future__ import annotations

from motionmvm.masking.pmr import pmr

# Which motion input each motion-guided strategy needs (keys of the strategy's keywords).
MOTION_NEEDS = {"fgdm": ("klt",), "mgm": ("mv", "flow"), "mgm_sparse": ("mv", "flow"),
                "mgmae": ("flow",)}


def strategy_kwargs(section: dict, name: str, *, epoch: float | None = None,
                    patch: int = 16) -> tuple[float, dict]:
    """(ratio, keyword arguments) for strategy `name` from the validated `masking` section.

    fgdm: P_spa and P_tmp follow PMR at `epoch` (default: the end of the schedule). mgmae:
    sigma "patch" -> the strategy's default (the patch size at the flow's resolution).
    mgm_sparse / smm_sparse use the mgm / smm entries.
    """
    key = {"mgm_sparse": "mgm", "smm_sparse": "smm"}.get(name, name)
    cfg = dict(section.get(key, {}))
    if name == "fgdm":
        s = cfg.get("pmr", {})
        ep = s.get("total_epochs", 100) if epoch is None else epoch
        total = s.get("total_epochs", 100)
        ratio = pmr(s.get("spa_start", 0.3), s.get("spa_end", 0.8), ep, total)
        p_tmp = pmr(s.get("tmp_start", 0.3), s.get("tmp_end", 0.9), ep, total)
        return ratio, {"p_den": cfg.get("p_den", 0.7), "p_tmp": p_tmp}
    ratio = cfg.pop("ratio", 0.5 if name == "cell_running" else 0.75)
    if name == "mgmae":
        sigma = cfg.pop("sigma", "patch")
        base = cfg.pop("base_frame", "middle")
        kw = {k: v for k, v in cfg.items() if k in ("hole_fill", "topk", "centres", "gaussian")}
        if sigma != "patch":
            kw["sigma"] = float(sigma)
        if base != "middle":
            kw["base_frame"] = int(base)
        return ratio, kw
    if key == "mgm":
        cfg.pop("guidance", None)
        if name == "mgm_sparse":
            cfg.pop("jitter", None)
        return ratio, cfg
    if name == "smm_sparse":
        cfg.pop("jitter", None)
    return ratio, cfg
