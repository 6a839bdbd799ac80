"""Data layer: embedded benchmark, video reading, clip sampling, manifests."""
