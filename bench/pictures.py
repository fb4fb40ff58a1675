"""Render the README's pictures from MovieLens 100K: data report, training curves, item embedding map.

    python bench/pictures.py [--data ../shared/data/ml-100k] [--out docs/images]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import ctr  # noqa: E402
from ctr.embedding_map import embedding_map  # noqa: E402
from ctr.inspect import plot_data_report, plot_history  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "ml-100k"))
    parser.add_argument("--out", default=str(ROOT / "docs" / "images"))
    args = parser.parse_args()
    out = Path(args.out)
    spec = ctr.FeatureSpec.from_yaml(ROOT / "feature_specs" / "movielens-100k.yaml")
    table = ctr.datasets.movielens_100k(args.data)
    print(ctr.inspect.inspect_data(table, spec).to_text())
    print(plot_data_report(table, spec, out / "ml100k_data_report.png"))
    train, valid, _ = ctr.data.random_split(table, (0.8, 0.1, 0.1), seed=0)
    model = ctr.DeepFM(spec, embedding_dim=16, hidden_units=(256, 128), dropout=0.3, l2=1e-5, batch_size=256)
    model.fit(train, validation_data=valid, epochs=8, verbose=2)
    print(plot_history(model.history_, out / "ml100k_deepfm_training.png", title="DeepFM on MovieLens 100K"))
    export = model.export(ROOT / "runs" / "ml100k-deepfm-pictures")
    written = embedding_map(export, "item_id", out / "ml100k_item_embeddings.png", data=table, color_by="genres")
    print(written)
    for extra in ("vectors", "metadata"):  # the projector files stay out of the repository
        Path(written[extra]).unlink()


if __name__ == "__main__":
    main()
