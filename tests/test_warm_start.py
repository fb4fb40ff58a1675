"""Warm start: a fit that begins from an earlier model's weights, each embedding row carried by its value."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

import ctr
from ctr.cli import main

SPEC = ctr.FeatureSpec([ctr.Categorical("user_id", dtype="int", role="user"),
                        ctr.Categorical("item_id", dtype="int", role="item"),
                        ctr.MultiCategorical("genres", role="item"), ctr.Numeric("price", role="item")],
                       label=ctr.Label("rating", threshold=4))


@pytest.fixture(scope="module")
def windows(frame):
    """An earlier window of data and a later one: the later holds new users and items, lacks some old
    ones, and counts the rest in another order, so each vocabulary's rows move."""
    earlier = frame.iloc[:6000]
    later = frame.iloc[6000:].copy()
    later = later[later.user_id % 7 != 0]  # users gone from the window
    later.loc[later.index[:400], "user_id"] += 10_000  # new users
    later.loc[later.index[:300], "item_id"] += 10_000  # new items
    return earlier, later


def test_each_row_is_carried_by_its_value(windows):
    earlier, later = windows
    before = ctr.DeepFM(SPEC, embedding_dim=4, hidden_units=(8,), learning_rate=0.01, seed=3)
    before.fit(earlier, epochs=2, verbose=0)
    # Learning at a negligible rate: the fit's only effect is the warm start.
    after = ctr.DeepFM(SPEC, embedding_dim=4, hidden_units=(8,), learning_rate=1e-12, seed=4)
    after.fit(later, epochs=1, verbose=0, warm_start_from=before)
    old_users = before.preprocessor_.state["tables"]["user_id"]["vocabulary"]
    new_users = after.preprocessor_.state["tables"]["user_id"]["vocabulary"]
    shared = set(old_users) & set(new_users)
    assert len(shared) > 100 and [u for u in old_users if u in shared] != [u for u in new_users if u in shared]

    known = later[later.user_id.astype(str).isin(shared)
                  & later.item_id.astype(str).isin(before.preprocessor_.state["tables"]["item_id"]["vocabulary"])]
    # The price's scaling is refitted on the later window; the rows' prices are set to its mean, where
    # standardisation gives 0 either way.
    known = known.assign(price=after.preprocessor_.state["numeric"]["price"]["mean"])
    earlier_price = known.assign(price=before.preprocessor_.state["numeric"]["price"]["mean"])
    assert len(known) > 500
    np.testing.assert_allclose(after.predict(known), before.predict(earlier_price), atol=1e-5)

    carried = after.warm_start_
    assert carried["tables"]["user_id"] == [1 + 1 + len(shared), 1 + 1 + len(new_users)]  # missing, unseen, shared
    assert carried["tables"]["price"] == [2, 2] and carried["other_weights"] == 5  # bias, 2 kernels, 2 biases


def test_an_export_starts_a_fit_as_the_model_does(windows, tmp_path, capsys, serve_fresh):
    earlier, later = windows
    before = ctr.FM(SPEC, embedding_dim=4, seed=1)
    before.fit(earlier, epochs=1, verbose=0)
    before.export(tmp_path / "before")
    from_model, from_export = (ctr.FM(SPEC, embedding_dim=4, seed=2) for _ in range(2))
    from_model.fit(later, epochs=1, verbose=0, warm_start_from=before)
    from_export.fit(later, epochs=1, verbose=1, warm_start_from=ctr.load(tmp_path / "before"))
    assert f"warm-started from {(tmp_path / 'before').resolve()}: " in capsys.readouterr().err
    from_model.summary()
    assert "warm-started from the fitted FM: " in capsys.readouterr().out
    np.testing.assert_allclose(from_export.predict(later), from_model.predict(later), atol=1e-6)
    from_export.export(tmp_path / "after")
    recorded = ctr.load(tmp_path / "after").metadata["warm_start"]
    assert recorded["from"] == str((tmp_path / "before").resolve())
    assert recorded["tables"] == from_model.warm_start_["tables"]
    rows = later.head(8)  # new users and items among them
    served = serve_fresh({"fm": {"path": str(tmp_path / "after"), "inputs": {
        "user_id": rows["user_id"].tolist(), "item_id": rows["item_id"].tolist(), "genres": rows["genres"].tolist(),
        "price": rows["price"].tolist()}}}, tmp_path)
    np.testing.assert_allclose(np.ravel(served["fm"]), from_export.predict(rows), atol=1e-5)


def test_the_shell_takes_the_model_settings_and_spec_from_the_export(windows, tmp_path, capsys):
    earlier, later = windows
    SPEC.to_yaml(tmp_path / "spec.yaml")
    earlier.to_parquet(tmp_path / "earlier.parquet")
    later.to_parquet(tmp_path / "later.parquet")
    assert main(["fit", "--spec", str(tmp_path / "spec.yaml"), "--data", str(tmp_path / "earlier.parquet"),
                 "--model", "dcn", "--embedding-dim", "4", "--hidden-units", "8", "--param", "cross_layers=1",
                 "--epochs", "1", "--export", str(tmp_path / "before")]) == 0
    capsys.readouterr()
    assert main(["fit", "--data", str(tmp_path / "later.parquet"), "--warm-start-from", str(tmp_path / "before"),
                 "--epochs", "1", "--learning-rate", "0.002", "--export", str(tmp_path / "after")]) == 0
    assert "DCN on" in capsys.readouterr().out
    metadata = json.loads((tmp_path / "after" / "assets.extra" / "ctr.json").read_text())
    assert metadata["model"] == "DCN" and metadata["warm_start"]["tables"]["item_id"][0] > 100
    assert metadata["config"]["cross_layers"] == 1 and metadata["config"]["hidden_units"] == [8]
    assert metadata["config"]["learning_rate"] == 0.002  # a flag changes a setting

    # Refused before the pass over the data: another kind of model, another shape.
    for flags, said in ((["--model", "fm"], "is a DCN"), (["--embedding-dim", "8"], "embedding_dim 4 before, 8 now"),
                        (["--model", "mf", "--split-by-time", "timestamp"], "and this is a MatrixFactorization")):
        assert main(["fit", "--data", str(tmp_path / "later.parquet"), "--warm-start-from",
                     str(tmp_path / "before"), "--epochs", "1", *flags]) == 2
        err = capsys.readouterr().err
        assert said in err and "fitting preprocessing" not in err, err


def test_what_cannot_be_carried_is_refused_with_its_reason(windows, frame):
    earlier, later = windows
    before = ctr.DeepFM(SPEC, embedding_dim=4, hidden_units=(8,))
    with pytest.raises(ctr.ArgumentError, match="untrained DeepFM"):
        ctr.DeepFM(SPEC).fit(later, warm_start_from=before)
    before.fit(earlier, epochs=1, verbose=0)
    with pytest.raises(ctr.ArgumentError, match=r"hidden_units \[8\] before, \[16\] now"):
        ctr.DeepFM(SPEC, embedding_dim=4, hidden_units=(16,)).fit(later, warm_start_from=before)
    with pytest.raises(ctr.ArgumentError, match="this model is trained"):
        before.fit(later, warm_start_from=before)
    with pytest.raises(ctr.ArgumentError, match="got DataFrame"):
        ctr.DeepFM(SPEC).fit(later, warm_start_from=later)
    # A feature more feeds the MLP a wider input: said after the vocabularies are fitted, with the feature.
    wider = ctr.FeatureSpec([*SPEC.features, ctr.Categorical("gender", role="user")], label=SPEC.label)
    refused = ctr.DeepFM(wider, embedding_dim=4, hidden_units=(8,))
    with pytest.raises(ctr.ArgumentError, match="features added: gender"):
        refused.fit(later, warm_start_from=before, verbose=0)
    assert refused.network_ is None  # not left as a trained model with random weights
    # FM has no layer that a feature more widens: the new feature's table starts afresh, the rest carry.
    fm = ctr.FM(SPEC, embedding_dim=4)
    fm.fit(earlier, epochs=1, verbose=0)
    grown = ctr.FM(wider, embedding_dim=4)
    grown.fit(later, epochs=1, verbose=0, warm_start_from=fm)
    assert grown.warm_start_["tables"]["gender"][0] == 0 and grown.warm_start_["tables"]["genres"][0] > 10


def test_hash_buckets_and_quantile_buckets_carry_when_their_counts_agree(frame):
    spec = ctr.FeatureSpec([ctr.Categorical("user_id", dtype="int", hash_buckets=64, role="user"),
                            ctr.Numeric("age", transform="quantile", buckets=4, role="user"),
                            ctr.Categorical("item_id", dtype="int", role="item")],
                           label=ctr.Label("rating", threshold=4))
    before = ctr.LogisticRegression(spec)
    before.fit(frame.iloc[:5000], epochs=1, verbose=0)
    after = ctr.LogisticRegression(spec)
    after.fit(frame.iloc[5000:], epochs=1, verbose=0, warm_start_from=before)
    assert after.warm_start_["tables"]["user_id"] == [65, 65]
    assert after.warm_start_["tables"]["age"] == [5, 5]  # 3 bounds: 4 buckets and missing


INTERACTIONS = ctr.FeatureSpec([ctr.Categorical("user_id", dtype="int", role="user"),
                                ctr.Categorical("gender", role="user"),
                                ctr.Categorical("item_id", dtype="int", role="item"),
                                ctr.MultiCategorical("genres", role="item")])


@pytest.fixture(scope="module")
def fitted_earlier(windows, tmp_path_factory):
    """Each recommender fitted on the earlier window, and its export: made once for the two tests that
    take it further (read-only to them)."""
    folder, made = tmp_path_factory.mktemp("earlier"), {}

    def get(cls):
        if cls not in made:
            model = cls(INTERACTIONS, embedding_dim=8, seed=1)
            model.fit(windows[0], epochs=1, verbose=0)
            made[cls] = model, model.export(folder / cls.__name__)
        return made[cls]

    return get


@pytest.mark.parametrize("cls", [ctr.MatrixFactorization, ctr.NeuMF, ctr.TwoTower])
def test_recommenders_carry_their_rows_by_value_too(cls, windows, fitted_earlier, tmp_path):
    _, later = windows
    before, exported = fitted_earlier(cls)
    after = cls(INTERACTIONS, embedding_dim=8, learning_rate=1e-12, seed=2)  # the warm start alone
    after.fit(later, epochs=1, verbose=0, warm_start_from=before)
    users = set(before.preprocessor_.state["tables"]["user_id"]["vocabulary"])
    items = set(before.preprocessor_.state["tables"]["item_id"]["vocabulary"])
    known = later[later.user_id.astype(str).isin(users) & later.item_id.astype(str).isin(items)].head(300)
    assert len(known) == 300 and after.warm_start_["tables"]["user_id"][0] < after.warm_start_["tables"]["user_id"][1]
    np.testing.assert_allclose(after.predict(known), before.predict(known), atol=1e-4)

    assert main(["fit", "--data", str(_parquet(later, tmp_path)), "--warm-start-from", str(exported),
                 "--split-by-time", "timestamp", "--epochs", "1", "--export", str(tmp_path / "after")]) == 0
    assert ctr.load(tmp_path / "after").metadata["model"] == cls.__name__


def _parquet(frame, folder):
    path = folder / "rows.parquet"
    frame.to_parquet(path)
    return path


@pytest.mark.parametrize("cls", [ctr.MatrixFactorization, ctr.NeuMF, ctr.TwoTower])
def test_load_model_rebuilds_a_recommender_to_train_further(cls, windows, fitted_earlier, tmp_path):
    _, later = windows
    model, exported = fitted_earlier(cls)
    rebuilt = ctr.load_model(exported)
    assert type(rebuilt) is cls and rebuilt.get_config() == model.get_config()
    queries = later.head(20)
    np.testing.assert_allclose(rebuilt.predict(queries), model.predict(queries), atol=1e-6)
    ids, scores = model.recommend(queries, k=5)
    rebuilt_ids, rebuilt_scores = rebuilt.recommend(queries, k=5)
    assert (rebuilt_ids == ids).all() and np.allclose(rebuilt_scores, scores, atol=1e-5)
    rebuilt.fit(later, epochs=1, verbose=0)  # its catalogue grows by the later window's new items
    assert len(rebuilt.catalog_ids()) > len(model.catalog_ids())

    shutil.copytree(exported, tmp_path / "model")  # the shared export stays as it is
    metadata = tmp_path / "model" / "assets.extra" / "ctr.json"
    older = json.loads(metadata.read_text())
    del older["item_counts"]  # as exports written before load_model were
    metadata.write_text(json.dumps(older))
    with pytest.raises(ctr.CtrError, match=r"lacks its items' interaction counts.*export the model again"):
        ctr.load_model(tmp_path / "model")
