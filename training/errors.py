"""What a user of `train-and-export` can get wrong, or what can go wrong in training itself."""


class TrainingError(Exception):
    """Training cannot go on (diverged loss, bad settings, failed export check); nothing was exported."""
