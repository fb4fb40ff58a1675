"""The models' short names, as `ctr fit --model` and `ctr.compare` take them, without importing TensorFlow."""

from __future__ import annotations

import difflib

CLICK_MODELS = {"lr": "LogisticRegression", "fm": "FM", "widedeep": "WideDeep", "deepfm": "DeepFM", "dcn": "DCN",
                "autoint": "AutoInt", "xdeepfm": "xDeepFM", "fibinet": "FiBiNET",
                "nfm": "NFM", "afm": "AFM"}
# The click models' classes, for messages that list them.
CLICK_MODEL_CLASSES = ", ".join(CLICK_MODELS.values())
# name: (class in ctr.models, its arguments)
RECOMMENDERS = {"mf": ("MatrixFactorization", {}), "bpr": ("MatrixFactorization", {"loss": "bpr"}),
                "neumf": ("NeuMF", {}), "two_tower": ("TwoTower", {}), "popularity": ("Popularity", {}),
                "ease": ("EASE", {})}

# Other libraries' names for our models (DeepCTR's), taken as ours.
ALIASES = {"wdl": "widedeep"}

# The baselines with no training loop, and what they do instead.
SOLVED = {"popularity": "popularity counts each item's interactions in one pass",
          "ease": "ease solves for its item weights in closed form"}


def model_key(text: str) -> str | None:
    """The short name of a model named in any case, as its class is in Python (DeepFM,
    MatrixFactorization, two-tower) or as DeepCTR names it (WDL); None for a name that is no model's."""
    key = text.strip().lower().replace("-", "_")
    classes = {cls.lower(): name for name, cls in CLICK_MODELS.items()}
    classes |= {cls.lower(): name for name, (cls, arguments) in RECOMMENDERS.items() if not arguments}
    name = classes.get(key.replace("_", ""), key)
    name = ALIASES.get(name, name)
    return name if name in CLICK_MODELS or name in RECOMMENDERS else None


def unknown_model(name: str) -> str:
    """What is said of a name that is no model's: the nearest name, and every name."""
    known = [*CLICK_MODELS, *RECOMMENDERS]
    near = difflib.get_close_matches(name.strip().lower(), known, n=1)
    guess = f" (did you mean {near[0]!r}?)" if near else ""
    return f"no model is called {name!r}{guess}; the models: {', '.join(known)}"
