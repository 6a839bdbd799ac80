"""Video tokenizers for DEMVM targets: train a 3D VQ-VAE (or the per-frame 2D VQ baseline) per
dataset, then encode every clip to token ids (`motionmvm tokenizer train|encode`)."""
