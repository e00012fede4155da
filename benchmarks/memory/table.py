"""The memory table: each variant's peak beside float32 without checkpointing, from the rows alone."""

from __future__ import annotations

#: the variants in table order: (dtype, gradient checkpointing)
VARIANTS = [{"dtype": "float32", "gradient_checkpointing": False},
            {"dtype": "float32", "gradient_checkpointing": True},
            {"dtype": "bfloat16", "gradient_checkpointing": False},
            {"dtype": "bfloat16", "gradient_checkpointing": True}]


def label(row: dict) -> str:
    return f"{row['dtype']}{' + checkpointing' if row['gradient_checkpointing'] else ''}"


def render(rows: list[dict]) -> str:
    """A markdown table of the finished variants (peaks in MiB, ratios to the float32 row), and
    the settings and commit they ran with."""
    found = [next((r for r in rows if all(r.get(k) == v for k, v in variant.items())), None) for variant in VARIANTS]
    done = [r for r in found if r is not None]
    if not done:
        return "No variant finished yet."
    base = found[0]

    def ratio(r, key):
        return f"{r[key] / base[key]:.2f}×" if base is not None else "—"

    def net(r):
        return r["peak_rss_mb"] - r["rss_imports_mb"]

    lines = [("| base | peak RSS (MiB) | vs float32 | peak − imports (MiB) | vs float32 | after load (MiB) "
              "| s / step | loss, step 1 → last |"),
             "|---|---:|---:|---:|---:|---:|---:|---|"]
    for r in done:
        rel = f"{net(r) / net(base):.2f}×" if base is not None else "—"
        lines.append(f"| {label(r)} | {r['peak_rss_mb']:,.0f} | {ratio(r, 'peak_rss_mb')} | {net(r):,.0f} | {rel} "
                     f"| {r['rss_loaded_mb']:,.0f} | {r['step_s']:.1f} | {r['losses'][0]:.4f} → {r['losses'][-1]:.4f} |")
    s, first = done[0]["settings"], done[0]
    lines += ["", (f"{s['model']}, batch {s['batch_size']} × {s['seq_len']} tokens, {s['steps']} optimizer steps, "
                   f"uniform LoRA at {s['budget']} over the {s['space']} space ({first['adapter_params']:,} adapter "
                   f"parameters on a {first['base_params']:,}-parameter base), {s['device']}, "
                   f"{first['machine']['threads']} torch thread(s); commit {first['commit']}.")]
    return "\n".join(lines)
