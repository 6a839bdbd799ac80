"""Evaluation protocols, the same for every method: fine-tune, MAR fine-tune, linear probe,
few-shot, partial domain adaptation; per-clip predictions, metrics recomputed from them, aggregation.

Outputs: `runs/P/eval/<protocol>/<method>/<dataset>/seed<S>/{metrics.json,predictions.csv}`.
"""
