"""Pixel normalisation constants shared by pretraining clips and evaluation transforms.

ImageNet RGB mean/std on [0, 1] pixels, as VideoMAE normalises its inputs.
"""
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
