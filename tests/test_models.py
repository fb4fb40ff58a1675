"""Models: interactions computed right, every field used, quality above the baseline, Keras verbs."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pandas as pd
import pytest

import ctr
from ctr._keras import keras, tf
from ctr.data import raw_features
from ctr.features import own_function, raw_signature
from ctr.models.embeddings import relu_layers
from ctr.models.fm import bi_interaction, fm_terms, pairwise_interactions


def test_pairwise_interactions_equal_the_sum_over_pairs():
    v = np.random.default_rng(0).normal(size=(3, 5, 4)).astype(np.float32)
    brute = sum((v[:, i] * v[:, j]).sum(axis=1) for i, j in itertools.combinations(range(5), 2))
    np.testing.assert_allclose(pairwise_interactions(tf.constant(v)).numpy(), brute, rtol=1e-5)


def test_fm_terms_from_the_moments_equal_the_terms_from_split_rows():
    rows = np.random.default_rng(1).normal(size=(3, 5, 5)).astype(np.float32)  # 4-wide vectors, weight last
    vectors, weights = rows[:, :, :4], rows[:, :, 4]
    sums, squared_norm = rows.sum(axis=1), (vectors ** 2).sum(axis=(1, 2))
    first_order, pairwise = (t.numpy() for t in fm_terms(tf.constant(sums), tf.constant(squared_norm), 4))
    np.testing.assert_allclose(first_order, weights.sum(axis=1), rtol=1e-5)
    np.testing.assert_allclose(pairwise, pairwise_interactions(tf.constant(vectors)).numpy(), rtol=1e-5, atol=1e-6)


def test_predict_reads_raw_values_as_training_encodes_them_and_streams_files(trained, splits, tmp_path):
    model, frame = trained["deepfm"], splits[2].head(50)
    whole = model.predict(frame)
    encoded, _ = model._encode_features(frame)  # the training cache's encoding, int32 ids
    logits = model.network_({k: tf.constant(v) for k, v in encoded.items()}).numpy().reshape(-1)
    np.testing.assert_allclose(whole, 1 / (1 + np.exp(-logits)), rtol=1e-5)
    frame.drop(columns="rating").to_parquet(tmp_path / "rows.parquet")
    np.testing.assert_allclose(model.predict(tmp_path / "rows.parquet", batch_size=7), whole, rtol=1e-6)
    assert model.predict(frame.head(0)).shape == (0,)


def test_predict_and_evaluate_take_keras_verbose(trained, splits, tmp_path, capsys):
    model, rows = trained["fm"], splits[2].head(30)
    expected = model.predict(rows)
    assert capsys.readouterr().out == ""  # silent by default: a serving call prints nothing
    np.testing.assert_allclose(model.predict(rows, batch_size=7, verbose=1), expected, atol=1e-6)
    assert "30/30" in capsys.readouterr().out  # a Keras progress bar over the rows
    model.export(tmp_path / "fm")
    served = ctr.load(tmp_path / "fm")
    np.testing.assert_allclose(served.predict(rows, verbose=1), expected, atol=1e-6)
    assert "30/30" in capsys.readouterr().out
    assert served.evaluate(rows, verbose=1)["rows"] == 30 and "30/30" in capsys.readouterr().out
    for bad in ({"verbose": "loud"}, {"batch_size": 0}):
        with pytest.raises(ctr.ArgumentError, match=r"verbose must be 0, 1, 2 or 'auto'|batch_size must be"):
            model.predict(rows, **bad)
    # A column given by mistake is named by its type and length, not printed whole (nor a pandas error).
    for name, wanted in [("batch_size", "an integer"), ("verbose", "0, 1, 2 or 'auto'")]:
        with pytest.raises(ctr.ArgumentError, match=rf"{name} must be {wanted}, got a Series of 30 values$"):
            model.predict(rows, **{name: rows["rating"]})


def test_summary_shows_settings_features_and_every_trainable_weight(spec, trained):
    lines: list[str] = []
    ctr.FM(spec, embedding_dim=3).summary(print_fn=lines.append)
    assert lines[0].startswith("FM {'embedding_dim': 3") and "(fit)" in lines[0]
    assert lines[0].endswith("(not trained yet: fit makes the weights)")
    lines.clear()
    model = trained["deepfm"]
    model.summary(print_fn=lines.append)
    text = lines[0]
    total = sum(int(np.prod(v.shape)) for v in model.network_.trainable_variables)
    assert text.endswith(f"trainable parameters: {total:,}") and "user_id" in text and "(fit)" not in text
    assert all(v.name in text for v in model.network_.trainable_variables)


def test_relu_layers_start_at_he_scale_and_repeat_with_the_seed():
    # He et al. (2015): a ReLU layer's weights start with variance 2 / fan_in (Glorot's is 2 / (in + out)).
    def kernels(seed):
        layers = [layer for layer in relu_layers((256, 128), 0.0, seed) if isinstance(layer, keras.layers.Dense)]
        x = tf.zeros((1, 640))
        for layer in layers:
            x = layer(x)
        return [layer.kernel.numpy() for layer in layers]

    first, again, other = kernels(3), kernels(3), kernels(4)
    for kernel, fan_in in zip(first, (640, 256), strict=True):
        assert abs(kernel.std() / np.sqrt(2 / fan_in) - 1) < 0.05
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not np.array_equal(first[0], other[0])


def test_training_moments_and_their_gradient_equal_those_of_the_served_rows(trained, splits):
    # Training sums FM's fields straight from the distinct table rows; serving sums the gathered rows.
    embeddings = trained["fm"].network_.scorer.embeddings
    encoded, _ = trained["fm"]._encode_features(splits[2].head(300))
    encoded = {k: tf.constant(v) for k, v in encoded.items()}
    assert {f.mode for f in embeddings.fields} >= {"id", "dense", "bag"}
    assert (encoded["price"].numpy()[:, 1] > 0).any()  # some missing numbers, read by their own vector
    upstream = [tf.constant(np.random.default_rng(i).normal(size=s), tf.float32)
                for i, s in ((4, (300, embeddings.table.shape[1])), (5, (300,)))]
    results = []
    for moments in (embeddings._moments_from_rows, embeddings._moments_sparse):
        with tf.GradientTape() as tape:
            sums, norms = moments(encoded)
            loss = tf.reduce_sum(sums * upstream[0]) + tf.reduce_sum(norms * upstream[1])
        gradient = tf.convert_to_tensor(tape.gradient(loss, embeddings.table))
        results.append((sums.numpy(), norms.numpy(), gradient.numpy()))
    for served, trained_value in zip(*results, strict=True):  # a row's gradient sums ~300 terms, in another order
        np.testing.assert_allclose(trained_value, served, rtol=1e-4, atol=1e-5)
    assert np.abs(results[0][2]).sum() > 0 and np.abs(results[0][1]).min() > 0


def test_cached_training_entries_give_the_rows_moments_and_gradients_of_the_features(trained, splits):
    # fit caches what a step reads of each row (table rows and weights) in place of its features.
    embeddings = trained["deepfm"].network_.scorer.embeddings
    encoded, _ = trained["deepfm"]._encode_features(splits[2].head(300))
    cached = embeddings.training_cache(encoded)
    assert cached is not None and set(cached).isdisjoint(encoded)
    features = {k: tf.constant(v) for k, v in encoded.items()}
    cached = {k: tf.constant(v) for k, v in cached.items()}
    results = []
    for inputs in (features, cached):
        with tf.GradientTape() as tape:
            rows, _ = embeddings._stack(embeddings.fields, inputs, sparse=True)
            sums, norms = embeddings._moments_sparse(inputs)
            loss = tf.reduce_sum(rows * 0.5) + tf.reduce_sum(sums) + tf.reduce_sum(norms * 2.0)
        gradient = tf.convert_to_tensor(tape.gradient(loss, embeddings.table))
        results.append((rows.numpy(), sums.numpy(), norms.numpy(), gradient.numpy()))
    for from_features, from_cache in zip(*results, strict=True):
        np.testing.assert_array_equal(from_cache, from_features)  # the same entries, summed in the same order
    assert np.abs(results[0][3]).sum() > 0


def test_training_caches_table_entries_only_where_the_features_are_not_needed(spec, splits):
    # FM only (a third to two fifths of a DeepFM step is its MLP, and the cache did not speed it up), and not
    # where training must see the features.
    train = splits[0].head(3000)
    base = spec.to_dict()
    dropped = {**base, "features": [{**f, "id_dropout": 0.2} if f["name"] == "user_id" else f
                                    for f in base["features"]]}
    with_history = {**base, "features": base["features"] + [
        {"name": "history", "kind": "history", "items": "item_id", "max_length": 3}]}
    for spec_dict, cached in ((base, True), (dropped, False), (with_history, False)):
        model = ctr.FM(ctr.FeatureSpec.from_dict(spec_dict), embedding_dim=4, batch_size=512)
        frame = ctr.data.add_history(train) if "history" in str(spec_dict) else train
        model.fit(frame, epochs=1, verbose=0)
        encoded, _ = model._encode_features(frame.head(50))
        assert (model.network_.scorer.training_cache(encoded) is not None) == cached, spec_dict["features"][-1]
    deepfm = ctr.DeepFM(spec, embedding_dim=4, hidden_units=(8,), batch_size=512)
    deepfm.fit(train, epochs=1, verbose=0)
    assert deepfm.network_.scorer.training_cache(deepfm._encode_features(train.head(50))[0]) is None


def test_training_from_the_cache_learns_the_same_weights_as_from_the_features(spec, splits, monkeypatch):
    from ctr.models.base import Scorer
    from ctr.models.embeddings import FieldEmbeddings

    made = []
    cache_of = FieldEmbeddings.training_cache
    monkeypatch.setattr(FieldEmbeddings, "training_cache",
                        lambda self, encoded: made.append(1) or cache_of(self, encoded))
    train, valid, test = (s.head(2000) for s in splits)
    predictions = []
    for cache in (True, False):
        if not cache:
            monkeypatch.setattr(Scorer, "training_cache", lambda self, encoded: None)
        model = ctr.FM(spec, embedding_dim=4, batch_size=256, seed=3)
        model.fit(train, validation_data=valid, epochs=2, verbose=0)
        predictions.append(model.predict(test))
        assert len(made) == 1  # made for the first fit only
    np.testing.assert_array_equal(predictions[0], predictions[1])


def test_the_optimizer_sums_duplicate_rows_only_where_a_table_was_read_twice(trained, splits):
    from ctr.models._adam import LazyAdam
    from ctr.models.embeddings import DistinctRows

    embeddings = trained["fm"].network_.scorer.embeddings
    encoded, _ = trained["fm"]._encode_features(splits[2].head(200))
    encoded = {k: tf.constant(v) for k, v in encoded.items()}
    gradients = []
    for reads in (1, 2):
        with tf.GradientTape() as tape:
            loss = sum(tf.reduce_sum(embeddings._moments_sparse(encoded)[1]) for _ in range(reads))
        gradients.append(tape.gradient(loss, embeddings.table))
    once, twice = gradients
    assert isinstance(once, DistinctRows) and len(np.unique(once.indices)) == len(once.indices)
    assert not isinstance(twice, DistinctRows) and len(np.unique(twice.indices)) < len(twice.indices)
    kept, summed = LazyAdam()._deduplicate_sparse_grad([once, twice])
    assert kept is once and len(np.unique(summed.indices)) == len(summed.indices)
    np.testing.assert_allclose(tf.convert_to_tensor(summed).numpy(), 2 * tf.convert_to_tensor(once).numpy(),
                               rtol=1e-6, atol=1e-7)


def test_training_reads_the_same_rows_and_gradient_as_serving(trained, splits):
    # Training builds the rows as a sparse product of the distinct table rows; serving gathers them.
    model = trained["fm"]
    embeddings = model.network_.scorer.embeddings
    encoded, _ = model._encode_features(splits[2].head(300))
    encoded = {k: tf.constant(v) for k, v in encoded.items()}
    shape = (300, len(embeddings.fields), embeddings.table.shape[1])
    weights = tf.constant(np.random.default_rng(2).normal(size=shape), tf.float32)
    results = []
    for sparse in (False, True):
        with tf.GradientTape() as tape:
            rows, order = embeddings._stack(embeddings.fields, encoded, sparse)
            loss = tf.reduce_sum(rows * weights)
        gradient = tape.gradient(loss, embeddings.table)
        results.append((rows.numpy(), tf.convert_to_tensor(gradient).numpy(), [f.key for f in order]))
    (gathered, g_gathered, order), (product, g_product, order_sparse) = results
    assert order == order_sparse and gathered.shape == weights.shape
    assert {f.mode for f in embeddings.fields} >= {"id", "dense", "bag"}
    np.testing.assert_allclose(product, gathered, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(g_product, g_gathered, rtol=1e-5, atol=1e-6)
    assert np.abs(g_gathered).sum() > 0


def test_interaction_models_beat_logistic_regression_on_planted_structure(trained, splits):
    test = splits[2]
    scores = {name: model.evaluate(test) for name, model in trained.items()}
    for s in scores.values():
        assert set(s) == {"auc", "logloss", "normalized_entropy", "calibration", "mean_prediction", "rows",
                          "positive_rate"} and s["rows"] == len(test)
        assert 0 < s["logloss"] < 1 and s["normalized_entropy"] < 1 and 0.9 < s["calibration"] < 1.1, s
    assert scores["lr"]["auc"] > 0.65
    # The generator's signal is mostly pairwise (taste × genre, hour × genre); LR cannot express it.
    assert scores["fm"]["auc"] > scores["lr"]["auc"] + 0.03, scores
    assert scores["widedeep"]["auc"] > scores["lr"]["auc"] + 0.03, scores
    assert scores["deepfm"]["auc"] > scores["lr"]["auc"] + 0.03, scores
    assert scores["dcn"]["auc"] > scores["lr"]["auc"] + 0.03, scores
    assert scores["autoint"]["auc"] > scores["lr"]["auc"] + 0.03, scores
    assert scores["xdeepfm"]["auc"] > scores["lr"]["auc"] + 0.03, scores
    assert scores["fibinet"]["auc"] > scores["lr"]["auc"] + 0.03, scores
    assert scores["nfm"]["auc"] > scores["lr"]["auc"] + 0.03, scores
    assert scores["afm"]["auc"] > scores["lr"]["auc"] + 0.03, scores


def test_wide_deep_is_deepfm_without_the_fm_its_wide_part_linear_and_its_mlp_crossing(trained, splits):
    """Without its MLP's logit, Wide & Deep is linear: the score of a user's features beside an item's is the
    sum of a term for each (a - b - c + d = 0 over two users and two items); DeepFM's FM crosses them still.
    The MLP crosses them in both."""
    rows = splits[2].head(2).reset_index(drop=True)
    items = [f.source for f in trained["widedeep"].spec.features if f.role == "item"]
    swapped = rows.copy()
    swapped[items] = rows[items].iloc[::-1].to_numpy()
    four = pd.concat([rows, swapped], ignore_index=True)  # users 0, 1 with items 0, 1, then with items 1, 0

    def interaction(model) -> float:
        logit = np.log(model.predict(four)) - np.log1p(-model.predict(four))
        return float(logit[0] - logit[2] - logit[3] + logit[1])

    for name in ("widedeep", "deepfm"):
        model = trained[name]
        top = model.network_.scorer.deep.layers[-1]
        kept = [w.numpy() for w in top.weights]
        assert abs(interaction(model)) > 1e-3, name
        try:
            for w in top.weights:
                w.assign(tf.zeros_like(w))
            crossed = interaction(model)
        finally:
            for w, value in zip(top.weights, kept, strict=True):
                w.assign(value)
        if name == "widedeep":
            assert abs(crossed) < 1e-4, crossed
        else:
            assert abs(crossed) > 1e-3, crossed


def test_every_field_of_the_spec_takes_part(trained, splits):
    model = trained["deepfm"]
    rows = splits[2].head(64).reset_index(drop=True)
    base = model.predict(rows)
    for feature in model.spec.features:
        changed = rows.copy()
        changed[feature.source] = rows[feature.source].sample(frac=1, random_state=1).to_numpy()
        if feature.kind == "numeric":
            changed[feature.source] = np.nan  # move every row to the "missing" slot
        assert np.abs(model.predict(changed) - base).max() > 1e-4, feature.name


def test_predictions_are_probabilities_and_match_keras_predict(trained, splits):
    p = trained["fm"].predict(splits[2])
    assert p.shape == (len(splits[2]),) and p.dtype == np.float32
    assert ((p > 0) & (p < 1)).all()


def test_dcn_cross_layers_learn_the_crosses_on_their_own_and_in_each_shape(trained, spec, splits):
    train, valid, test = splits
    lr_auc = trained["lr"].evaluate(test)["auc"]
    shapes = {"cross only": dict(cross_layers=2, hidden_units=()),
              "stacked, low-rank": dict(cross_layers=2, projection_dim=4, hidden_units=(16,), structure="stacked")}
    predictions = {}
    for name, shape in shapes.items():
        model = ctr.DCN(spec, embedding_dim=8, learning_rate=0.003, batch_size=256, **shape)
        model.fit(train, validation_data=valid, epochs=3, verbose=0)
        # The generator's signal is pairwise; with no MLP, only the cross layers can carry it.
        assert model.evaluate(test)["auc"] > lr_auc + 0.03, name
        kernels = sorted(tuple(v.shape) for v in model.network_.scorer.trainable_variables
                         if "cross" in v.name and "kernel" in v.name)
        rank, width = shape.get("projection_dim"), len(model.network_.scorer.embeddings.fields) * 8
        assert kernels == sorted([(width, width)] * 2 if rank is None else [(width, rank), (rank, width)] * 2), name
        predictions[name] = model.predict(test.head(100))
    assert np.abs(predictions["cross only"] - predictions["stacked, low-rank"]).max() > 1e-3


def test_autoint_attention_learns_the_crosses_on_its_own_and_each_field_attends_to_the_others(trained, spec, splits):
    from ctr._keras import tf

    train, valid, test = splits
    lr_auc = trained["lr"].evaluate(test)["auc"]
    # The paper's AutoInt (no MLP), without the residual projection: the attention alone carries the pairs.
    model = ctr.AutoInt(spec, embedding_dim=8, attention_layers=2, num_heads=2, key_dim=4, residual=False,
                        hidden_units=(), learning_rate=0.003, batch_size=256)
    model.fit(train, validation_data=valid, epochs=3, verbose=0)
    assert model.evaluate(test)["auc"] > lr_auc + 0.03
    scorer = model.network_.scorer
    fields = len(scorer.embeddings.fields)
    shapes = sorted((v.name.split("/")[-1], tuple(v.shape)) for v in scorer.trainable_variables
                    if "interacting" in v.name)
    assert shapes == sorted([(f"{n}:0", (8, 8)) for n in ("query", "key", "value")] * 2), shapes  # no residual
    assert scorer.logit.kernel.shape == (fields * 2 * 4, 1)  # the last layer's fields, flattened, alone
    # One layer's attention, worked out apart: each field's weights over the fields sum to 1 per head, and
    # the layer's output is the heads' weighted values side by side, through a ReLU.
    layer = scorer.interacting[0]
    x = tf.random.stateless_normal((5, fields, 8), seed=(1, 2))
    q, k, v = (tf.reshape(tf.einsum("bfd,de->bfe", x, w), (5, fields, 2, 4)) for w in layer.projections)
    weights = tf.nn.softmax(tf.einsum("bfhd,bghd->bhfg", q, k), axis=-1)
    np.testing.assert_allclose(tf.reduce_sum(weights, axis=-1), np.ones((5, 2, fields)), rtol=1e-6)
    expected = tf.nn.relu(tf.reshape(tf.einsum("bhfg,bghd->bfhd", weights, v), (5, fields, 8)))
    np.testing.assert_allclose(layer(x), expected, rtol=1e-5, atol=1e-6)


def test_xdeepfm_cin_learns_the_crosses_on_its_own_and_computes_the_papers_feature_maps(trained, spec, splits,
                                                                                         tmp_path):
    from ctr._keras import tf

    train, valid, test = splits
    lr_auc = trained["lr"].evaluate(test)["auc"]
    model = ctr.xDeepFM(spec, embedding_dim=8, cin_layers=(6, 4), hidden_units=(), learning_rate=0.003,
                        batch_size=256)  # the CIN alone carries the pairs
    model.fit(train, validation_data=valid, epochs=3, verbose=0)
    assert model.evaluate(test)["auc"] > lr_auc + 0.03
    scorer = model.network_.scorer
    fields = len(scorer.embeddings.fields)
    # split_half: 3 of the first layer's 6 maps go on (3·F products into the second) and 3 to the output.
    assert [tuple(k.shape) for k in scorer.cin.kernels] == [(fields * fields, 6), (3 * fields, 4)]
    assert scorer.logit.kernel.shape == (3 + 4, 1)
    # The feature maps worked out apart from the paper's formula, X^k_h = Σ_ij W^k_h,ij (X^{k-1}_i ⊙ X^0_j),
    # on a layer without split_half and with the paper's linear maps, and on the model's own layer.
    for cin in (scorer.cin, ctr.models.xdeepfm.CompressedInteraction((5, 3, 2), False, "linear", seed=3)):
        x = tf.random.stateless_normal((4, fields, 8), seed=(1, 2))
        got = cin(x)
        hidden, pooled = x, []
        for i, (kernel, bias) in enumerate(zip(cin.kernels, cin.biases, strict=True)):
            w = tf.reshape(kernel, (hidden.shape[1], fields, -1))
            out = tf.einsum("bid,bjd,ijh->bhd", hidden, x, w) + bias[None, :, None]
            out = tf.nn.relu(out) if cin.activation == "relu" else out
            if cin.split_half and i < len(cin.kernels) - 1:
                hidden, out = out[:, :out.shape[1] // 2], out[:, out.shape[1] // 2:]
            else:
                hidden = out
            pooled.append(tf.reduce_sum(out, axis=2))
        np.testing.assert_allclose(got, tf.concat(pooled, axis=1), rtol=1e-4, atol=1e-5)
    # Wide maps score fewer rows a call than predict asks (their products grow with the batch), to the same scores.
    wide = ctr.xDeepFM(spec, embedding_dim=8, cin_layers=(512, 4), hidden_units=(), batch_size=256)
    wide.fit(train.head(1000), epochs=1, verbose=0)
    assert wide.network_.scorer.rows_a_call == 2 ** 25 // (8 * fields * 256) < 8192
    rows = pd.concat([test] * 4, ignore_index=True)
    expected = wide.predict(rows, batch_size=256)
    network, score = wide._score
    sizes = []
    wide._score = (network, lambda batch: sizes.append(len(batch["user_id"])) or score(batch))
    np.testing.assert_allclose(wide.predict(rows), expected, rtol=1e-5, atol=1e-6)
    assert max(sizes) == wide.network_.scorer.rows_a_call and sum(sizes) == len(rows) > max(sizes)
    served = ctr.load(wide.export(tmp_path / "wide"))  # its export too (it scores 65,536 rows a call otherwise)
    signature, sizes = served.signature, []
    served.signature = lambda **raw: sizes.append(len(raw["user_id"])) or signature(**raw)
    np.testing.assert_allclose(served.predict(rows), expected, rtol=1e-5, atol=1e-6)
    assert max(sizes) == wide.network_.scorer.rows_a_call and sum(sizes) == len(rows)


def test_fibinet_bilinear_products_learn_the_crosses_on_their_own_and_are_the_papers(trained, spec, splits):
    train, valid, test = splits
    model = ctr.FiBiNET(spec, embedding_dim=8, bilinear_type="each", reduction_ratio=2, hidden_units=(),
                        learning_rate=0.003, batch_size=256)  # the products alone carry the pairs, to the logit
    model.fit(train, validation_data=valid, epochs=3, verbose=0)
    assert model.evaluate(test)["auc"] > trained["lr"].evaluate(test)["auc"] + 0.03
    scorer = model.network_.scorer
    fields = len(scorer.embeddings.fields)
    pairs = list(itertools.combinations(range(fields), 2))
    assert scorer.senet.squeeze.shape == (fields, fields // 2) and scorer.senet.excite.shape == (fields // 2, fields)
    assert scorer.bilinear.kernel.shape == scorer.senet_bilinear.kernel.shape == (fields - 1, 8, 8)
    assert scorer.logit.kernel.shape == (2 * len(pairs) * 8, 1)
    # The paper's formulas worked out pair by pair: SENET's A = ReLU(W2 ReLU(W1 z)) with z each field's mean,
    # and p_ij = (v_i · W) ⊙ v_j with W shared ("all"), the left field's ("each") or the pair's ("interaction").
    x = tf.random.stateless_normal((4, fields, 8), seed=(1, 2))
    weights = np.maximum(np.maximum(x.numpy().mean(axis=2) @ scorer.senet.squeeze.numpy(), 0)
                         @ scorer.senet.excite.numpy(), 0)
    np.testing.assert_allclose(scorer.senet(x), x.numpy() * weights[:, :, None], rtol=1e-5, atol=1e-6)
    for kind in ctr.models.fibinet.BILINEAR_TYPES:
        layer = scorer.bilinear if kind == "each" else ctr.models.fibinet.BilinearInteraction(kind, seed=3)
        got = layer(x).numpy()
        w = layer.kernel.numpy()
        expected = [(x.numpy()[:, i] @ w[{"all": 0, "each": i, "interaction": p}[kind]]) * x.numpy()[:, j]
                    for p, (i, j) in enumerate(pairs)]
        np.testing.assert_allclose(got, np.stack(expected, axis=1), rtol=1e-5, atol=1e-5, err_msg=kind)


def test_nfm_pools_the_products_of_every_pair_of_fields_for_its_mlp(trained, spec, splits):
    """NFM's Bi-Interaction pooling is Σ_{i<j} v_i ⊙ v_j, one vector of the embedding's width, which its MLP
    reads; dropout on the pooled vector (bi_dropout) acts in training only; a spec of one field has no pair."""
    x = tf.random.stateless_normal((4, 5, 3), seed=(1, 2))
    pairs = sum(x.numpy()[:, i] * x.numpy()[:, j] for i, j in itertools.combinations(range(5), 2))
    np.testing.assert_allclose(bi_interaction(x), pairs, rtol=1e-5, atol=1e-5)
    scorer = trained["nfm"].network_.scorer
    kernels = [v.shape.as_list() for v in scorer.deep.trainable_variables if "kernel" in v.name]
    assert kernels == [[8, 32], [32, 16], [16, 1]] and scorer.bi_dropout is None
    dropped = ctr.NFM(spec, embedding_dim=4, hidden_units=(), bi_dropout=0.5, batch_size=256)  # NFM-0
    dropped.fit(splits[0].head(512), epochs=1, verbose=0)
    raw = raw_features(splits[2].head(64), spec)
    encoded = dropped._encode_fn()({k: tf.constant(v, raw_signature(spec)[k].dtype) for k, v in raw.items()})
    assert dropped.network_.scorer.bi_dropout.rate == 0.5 and dropped.get_config()["bi_dropout"] == 0.5
    served = dropped.network_.scorer(encoded, training=False).numpy()
    np.testing.assert_allclose(served, np.log(1 / dropped.predict(splits[2].head(64)) - 1) * -1, atol=1e-4)
    assert np.abs(dropped.network_.scorer(encoded, training=True).numpy() - served).max() > 1e-3
    one = ctr.FeatureSpec([ctr.Categorical("user_id", dtype="int")], label=spec.label)
    with pytest.raises(ctr.ArgumentError, match=r"NFM pools the products of pairs of fields, and the spec gives it "
                                                r"one \(user_id\): use ctr.LogisticRegression"):
        ctr.NFM(one).fit(splits[0].head(100), verbose=0)
    with pytest.raises(ctr.ArgumentError, match="NFM: bi_dropout must be"):
        ctr.NFM(spec, bi_dropout=1.5)


def test_afm_weighs_the_products_of_every_pair_of_fields_by_attention_and_projects_their_sum(trained, spec, splits):
    """AFM's pooling is Σ_{i<j} a_ij (v_i ⊙ v_j), a_ij the softmax over a row's pairs of hᵀ ReLU(W (v_i ⊙ v_j) + b),
    and its logit adds the projection of that sum to the first-order weights; dropout on the pooled vector acts in
    training only; a spec of one field has no pair."""
    x = tf.random.stateless_normal((4, 5, 3), seed=(1, 2))
    layer = ctr.models.afm.AttentionalPooling(6, seed=3)
    pooled = layer(x).numpy()
    kernel, bias, projection = (v.numpy() for v in (layer.kernel, layer.bias, layer.projection))
    products = np.stack([x.numpy()[:, i] * x.numpy()[:, j] for i, j in itertools.combinations(range(5), 2)], axis=1)
    scores = np.maximum(products @ kernel + bias, 0) @ projection[:, 0]  # [4, 10]
    weights = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(layer.pair_weights(layer.products(x)), weights, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(pooled, (weights[:, :, None] * products).sum(axis=1), rtol=1e-5, atol=1e-6)
    assert not np.allclose(weights, weights[:, :1])  # the pairs are weighed apart, not all alike

    model = trained["afm"]
    scorer = model.network_.scorer
    raw = raw_features(splits[2].head(64), spec)
    encoded = model._encode_fn()({k: tf.constant(v, raw_signature(spec)[k].dtype) for k, v in raw.items()})
    vectors, first_order = scorer.embeddings(encoded)
    by_hand = scorer.bias + first_order + (scorer.attention(vectors) @ scorer.projection)[:, 0]
    np.testing.assert_allclose(scorer(encoded).numpy(), by_hand.numpy(), rtol=1e-5, atol=1e-5)
    assert scorer.dropout is None and scorer.attention.kernel.shape == (8, 8)

    dropped = ctr.AFM(spec, embedding_dim=4, attention_factor=2, dropout=0.5, batch_size=256)
    dropped.fit(splits[0].head(512), epochs=1, verbose=0)
    encoded = dropped._encode_fn()({k: tf.constant(v, raw_signature(spec)[k].dtype) for k, v in raw.items()})
    assert dropped.get_config()["dropout"] == 0.5 and dropped.network_.scorer.attention.kernel.shape == (4, 2)
    scorer = dropped.network_.scorer
    served = scorer(encoded, training=False).numpy()
    np.testing.assert_allclose(served, np.log(1 / dropped.predict(splits[2].head(64)) - 1) * -1, atol=1e-4)
    _, first_order = scorer.embeddings(encoded)
    pairs = np.abs(served - (scorer.bias + first_order).numpy()).max()  # the pairs' logit, small after a short fit
    assert np.abs(scorer(encoded, training=True).numpy() - served).max() > 0.1 * pairs > 0
    one = ctr.FeatureSpec([ctr.Categorical("user_id", dtype="int")], label=spec.label)
    with pytest.raises(ctr.ArgumentError, match=r"AFM weighs the products of pairs of fields, and the spec gives it "
                                                r"one \(user_id\): use ctr.LogisticRegression"):
        ctr.AFM(one).fit(splits[0].head(100), verbose=0)
    with pytest.raises(ctr.ArgumentError, match="AFM: attention_factor must be an integer of at least 1, got 0"):
        ctr.AFM(spec, attention_factor=0)


def test_a_fit_lets_its_arrays_go_when_its_model_does(spec, splits):
    """TensorFlow keeps a Keras train function's graph after its model is gone (keras-team/tf-keras#286), and the
    graph held the fit's encoded arrays: each fit of a notebook or of `compare` added its data to the process
    (250 MB a fit of 1.2 million rows). The steps' captured tensors are let go when the fit ends."""
    import gc

    rows = splits[0].head(1237)  # a row count no other tensor here has

    def held() -> list[tuple[int, ...]]:
        return [tuple(o.shape) for o in gc.get_objects()
                if isinstance(o, tf.Tensor) and hasattr(o, "numpy") and o.shape.rank and o.shape[0] == len(rows)]

    for make in (lambda: ctr.FM(spec, embedding_dim=4, batch_size=256),
                 lambda: ctr.MatrixFactorization(spec, embedding_dim=4, batch_size=256)):
        model = make()
        model.fit(rows, epochs=2, verbose=0)
        del model
        gc.collect()
        assert held() == [], (make, held())


def test_import_keeps_a_heap_pad_unless_the_process_sets_its_own(monkeypatch):
    """glibc's malloc handed each step's freed heap top back to the system and faulted it in again at the next
    step (bench/autoint.py's training ran at two thirds of the speed): ctr asks for a 16 MB pad, but an
    explicit MALLOC_TOP_PAD_ is the user's to keep."""
    import ctypes

    from ctr import _keras

    calls = []

    class Libc:
        def mallopt(self, option, value):
            calls.append((option, value))
            return 1

    monkeypatch.setattr(ctypes, "CDLL", lambda name: Libc())
    monkeypatch.delenv("MALLOC_TOP_PAD_", raising=False)
    _keras._keep_heap_pad()
    assert calls == [(-2, 16 << 20)]  # M_TOP_PAD
    monkeypatch.setenv("MALLOC_TOP_PAD_", "131072")
    _keras._keep_heap_pad()
    assert calls == [(-2, 16 << 20)]

    def no_library(name):
        raise OSError("not found")

    monkeypatch.setattr(ctypes, "CDLL", no_library)  # no C library to ask: nothing to set, nothing raised
    monkeypatch.delenv("MALLOC_TOP_PAD_")
    _keras._keep_heap_pad()


def test_threads_asking_a_model_for_its_first_predictions_at_once_share_one_trace(trained, splits, tmp_path,
                                                                                   monkeypatch):
    """A server's threads, first requests at once: one traced call made (each thread made its own), no
    "excessive retracing" warning in the server's log (each thread that found no trace counted as one),
    and the serial predictions."""
    import concurrent.futures
    import logging
    import threading

    class Warnings(logging.Handler):
        def __init__(self):
            super().__init__(logging.WARNING)
            self.messages = []

        def emit(self, record):
            self.messages.append(record.getMessage())

    told = Warnings()
    trained["fm"].export(tmp_path / "fm")
    model, rows = ctr.load_model(tmp_path / "fm"), [splits[2].iloc[i * 20:(i + 1) * 20] for i in range(8)]
    start, made = threading.Barrier(len(rows)), []
    monkeypatch.setattr(ctr.models.base, "own_function", lambda *a, **k: made.append(1) or own_function(*a, **k))

    def predict(frame):
        start.wait()
        return model.predict(frame)

    tf.get_logger().addHandler(told)
    try:
        with concurrent.futures.ThreadPoolExecutor(len(rows)) as pool:
            together = list(pool.map(predict, rows))
    finally:
        tf.get_logger().removeHandler(told)
    assert not [m for m in told.messages if "retracing" in m]
    assert len(made) == 1
    assert model._score[1].experimental_get_tracing_count() == 1
    for frame, scores in zip(rows, together, strict=True):
        np.testing.assert_array_equal(scores, model.predict(frame))
    assert model._score[1].experimental_get_tracing_count() == 1


def test_same_seed_same_model(spec, splits):
    train = splits[0].head(2000)

    def run():
        model = ctr.DeepFM(spec, embedding_dim=4, hidden_units=(8,), dropout=0.1, seed=7)
        model.fit(train, epochs=1, verbose=0)
        return model.predict(splits[2].head(50))

    np.testing.assert_array_equal(run(), run())


def _fit_for_dtypes(spec, splits, cls):
    model = cls(spec, embedding_dim=4, seed=7)
    model.fit(splits[0].head(2000), epochs=1, verbose=0)
    return model


@pytest.fixture(scope="module")
def in_float32(spec, splits) -> dict:
    """A click model's and a recommender's predictions, trained with Keras' default dtype (both settings' test)."""
    return {cls: _fit_for_dtypes(spec, splits, cls).predict(splits[2].head(50))
            for cls in (ctr.DeepFM, ctr.MatrixFactorization)}


@pytest.mark.parametrize("setting", ["mixed_float16", "float64"])
def test_a_process_wide_keras_dtype_leaves_ctr_models_in_float32(spec, splits, setting, tmp_path, in_float32):
    """Mixed precision (or float64) set for the user's own Keras models: ctr's click models and
    recommenders train, predict, export and load as in float32 (same seed, same predictions), say so
    once, and leave the setting as it was."""
    test, expected = splits[2].head(50), in_float32
    try:
        if setting.startswith("mixed"):
            keras.mixed_precision.set_global_policy(setting)
        else:
            keras.backend.set_floatx(setting)
        ctr._keras._TOLD.clear()
        with pytest.warns(UserWarning, match=rf"ctr's models compute in float32: .*'{setting}'") as told:
            models = {cls: _fit_for_dtypes(spec, splits, cls) for cls in expected}
            for cls, model in models.items():
                np.testing.assert_array_equal(model.predict(test), expected[cls])
                model.export(tmp_path / cls.__name__)
                np.testing.assert_allclose(ctr.load_model(tmp_path / cls.__name__).predict(test), expected[cls],
                                           rtol=1e-6)
        assert len([w for w in told if "float32" in str(w.message)]) == 1
        np.testing.assert_allclose(ctr.load(tmp_path / "DeepFM").predict(test), expected[ctr.DeepFM], rtol=1e-6)
        assert keras.mixed_precision.global_policy().name == setting
        assert keras.backend.floatx() == ("float32" if setting.startswith("mixed") else setting)
    finally:
        keras.mixed_precision.set_global_policy(None)
        keras.backend.set_floatx("float32")


def test_keras_callbacks_history_and_tensorboard_logs(spec, splits, tmp_path):
    seen = []

    class Record(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(sorted(logs))

    model = ctr.LogisticRegression(spec)
    history = model.fit(splits[0].head(1000), validation_data=splits[1], epochs=2, callbacks=[Record()],
                        verbose=0, logdir=tmp_path / "tb")
    assert len(seen) == 2 and "val_auc" in seen[0] and "logloss" in seen[0]
    assert "auc" not in seen[0]  # AUC is an evaluation metric; training shows the epoch-mean logloss
    assert len(history.history["val_auc"]) == 2 and len(model.history_["val_auc"]) == 2
    assert list((tmp_path / "tb").rglob("events.out.tfevents*"))
    model.fit(splits[0].head(1000), epochs=1, verbose=0)  # a second fit continues training
    assert len(model.history_["loss"]) == 3


def test_validation_data_without_a_column_is_named_as_such_before_the_training_pass(spec, splits, tmp_path):
    """It was found after the preprocessing pass over the training rows, as 'missing from the data'."""
    train, valid, _ = splits
    valid.drop(columns="rating").to_csv(tmp_path / "valid.csv", index=False)
    for given, where in ((valid.drop(columns="rating"), "the validation data"),
                         (str(tmp_path / "valid.csv"), str(tmp_path / "valid.csv"))):
        model = ctr.LogisticRegression(spec)
        with pytest.raises(ctr.DataError, match=rf"column 'rating' is missing from {re.escape(where)}; it has"):
            model.fit(train, validation_data=given, epochs=1, verbose=0)
        assert not model.preprocessor_.fitted  # refused before the pass over the training rows


def test_fit_takes_keras_validation_split_and_one_callback_and_names_a_keras_style_y(spec, splits, tmp_path):
    rows = splits[0].head(1000)

    def fit(**kwargs):
        model = ctr.LogisticRegression(spec, seed=3)
        return model.fit(epochs=1, verbose=0, **kwargs).history

    # The last fifth of the rows validates, as in Keras: the same figures as passing them.
    split = fit(data=rows, validation_split=0.2, callbacks=keras.callbacks.TerminateOnNaN())
    assert split["val_auc"] == fit(data=rows.iloc[:800], validation_data=rows.iloc[800:])["val_auc"]
    model = ctr.LogisticRegression(spec)
    for kwargs, message in [
        ({"validation_data": rows["rating"]}, "second argument is validation_data, .* got a Series. The labels are "
                                              "the data's 'rating' column"),
        ({"validation_data": rows, "validation_split": 0.2}, "validation_data or validation_split, not both"),
        ({"validation_split": 1.5}, "validation_split must be a number above 0 and below 1"),
        ({"validation_split": 0.0001}, "leaves 0 for validation"),
        ({"callbacks": [keras.callbacks.History(), "stop early"]},
         "callbacks must be tf.keras callbacks .* 'stop early'"),
        # Keras' fit arguments that ctr expresses otherwise say how; a misspelt one, what it may be.
        ({"sample_weight": np.ones(len(rows))}, r"LogisticRegression\.fit has no argument 'sample_weight' \(row "
                                                r"weights are a column of the data, the one the spec's label\.weight "
                                                r"names\); it takes validation_data, epochs, "),
        ({"class_weight": {0: 1.0, 1: 5.0}}, r"'class_weight' \(weigh the rows .*ctr\.data\.downsample_negatives"),
        ({"epoch": 2}, r"no argument 'epoch' \(did you mean 'epochs'\?\)"),
    ]:
        with pytest.raises(ctr.ArgumentError, match=message):
            model.fit(rows, epochs=1, verbose=0, **kwargs)
    rows.to_parquet(tmp_path / "rows.parquet")
    with pytest.raises(ctr.ArgumentError, match="for files, pass validation_data"):
        model.fit(tmp_path / "rows.parquet", validation_split=0.2, epochs=1, verbose=0)
    # Empty validation data (a filter that matched nothing) is named, not trained past without validating.
    rows.head(0).to_parquet(tmp_path / "none.parquet")
    for model, kwargs in [(ctr.LogisticRegression(spec), {"validation_data": rows.head(0)}),
                          (ctr.LogisticRegression(spec), {"validation_data": tmp_path / "none.parquet"}),
                          (ctr.LogisticRegression(spec), {"validation_data": tmp_path / "none.parquet",
                                                          "in_memory": False}),
                          (ctr.MatrixFactorization(spec), {"validation_data": rows.head(0)}),
                          (ctr.MatrixFactorization(spec), {"validation_data": tmp_path / "none.parquet"})]:
        with pytest.raises(ctr.DataError, match=r"validation.data has no rows; pass validation_data=None to train "
                                                "without validation"):
            model.fit(tmp_path / "rows.parquet", epochs=1, verbose=0, **kwargs)


def test_keras_model_checkpoint_writes_exports_and_weights_that_load_weights_restores(spec, splits, tmp_path):
    """Keras' ModelCheckpoint on a ctr model writes its export (a SavedModel over raw features, with
    the epochs so far in its history), or with save_weights_only the weights that load_weights restores."""
    train, valid, test = splits[0].head(3000), splits[1], splits[2].head(200)
    model = ctr.FM(spec, embedding_dim=4, learning_rate=0.01)
    best = keras.callbacks.ModelCheckpoint(str(tmp_path / "best"), monitor="val_auc", mode="max", save_best_only=True)
    every = keras.callbacks.ModelCheckpoint(str(tmp_path / "epoch{epoch}"))
    weights = keras.callbacks.ModelCheckpoint(str(tmp_path / "weights{epoch}"), save_weights_only=True)
    history = model.fit(train, validation_data=valid, epochs=3, callbacks=[best, every, weights], verbose=0)
    final = model.predict(test)
    np.testing.assert_allclose(ctr.load(tmp_path / "epoch3").predict(test), final, atol=1e-5)
    first = ctr.load(tmp_path / "epoch1")
    assert first.metadata["history"]["val_auc"] == history.history["val_auc"][:1]
    assert len(ctr.load(tmp_path / "epoch2").metadata["history"]["loss"]) == 2
    chosen = int(np.argmax(history.history["val_auc"])) + 1
    np.testing.assert_allclose(ctr.load(tmp_path / "best").predict(test),
                               ctr.load(tmp_path / f"epoch{chosen}").predict(test), atol=1e-6)
    assert np.abs(first.predict(test) - final).max() > 1e-3
    model.load_weights(tmp_path / "weights1")
    np.testing.assert_allclose(model.predict(test), first.predict(test), atol=1e-5)
    model.save_weights(tmp_path / "again.weights.h5")
    model.load_weights(tmp_path / "again.weights.h5")

    with pytest.raises(ctr.ArgumentError, match=r"FM\.fit: ModelCheckpoint saves a ctr model as its export, .*"
                                                r"'best\.keras' names a Keras file; give it a folder"):
        model.fit(train, callbacks=[keras.callbacks.ModelCheckpoint("best.keras")], verbose=0)
    with pytest.raises(ctr.NotFittedError, match=r"FM\.load_weights: weights go back into a fitted model"):
        ctr.FM(spec).load_weights(tmp_path / "weights1")
    with pytest.raises(ctr.DataError, match=r"FM\.load_weights: no weights at .*nowhere"):
        model.load_weights(tmp_path / "nowhere")
    wider = ctr.FM(spec, embedding_dim=8)
    wider.fit(train, epochs=1, verbose=0)
    with pytest.raises(ctr.DataError, match=r"cannot restore .*weights1.* into this FM; weights load only into the "
                                            r"model .* that saved them: .*shape"):
        wider.load_weights(tmp_path / "weights1")


def test_keras_learning_rate_callbacks_and_csv_logger_act_on_a_ctr_model(spec, splits, tmp_path):
    """Keras' LearningRateScheduler and ReduceLROnPlateau set the rate the steps use (every
    embedding update included: at rate 0 nothing moves), and CSVLogger writes each epoch's figures."""
    train, valid, test = splits[0].head(2000), splits[1], splits[2].head(100)
    model = ctr.DeepFM(spec, embedding_dim=4, hidden_units=(8,), weight_averaging=None)
    model.fit(train, epochs=1, verbose=0)
    before = model.predict(test)
    frozen = keras.callbacks.LearningRateScheduler(lambda epoch, rate: 0.0)
    log = keras.callbacks.CSVLogger(str(tmp_path / "epochs.csv"))
    history = model.fit(train, validation_data=valid, epochs=2, callbacks=[frozen, log], verbose=0).history
    np.testing.assert_array_equal(model.predict(test), before)
    assert history["lr"] == [0.0, 0.0]
    logged = pd.read_csv(tmp_path / "epochs.csv")
    assert logged["epoch"].tolist() == [0, 1] and np.allclose(logged["val_auc"], history["val_auc"])
    plateau = keras.callbacks.ReduceLROnPlateau(monitor="val_auc", mode="max", patience=0, factor=0.5, min_delta=1.0)
    model.network_.optimizer.learning_rate = 0.01
    model.fit(train, validation_data=valid, epochs=2, callbacks=plateau, verbose=0)
    assert float(model.network_.optimizer.learning_rate.numpy()) == pytest.approx(0.005)  # halved once, after epoch 2


def test_the_reported_losses_are_epoch_means_as_in_keras(spec, splits, capsys):
    """`loss` and `val_loss` are what Keras callbacks watch by default (EarlyStopping,
    ReduceLROnPlateau): the epoch's mean over its rows, not the last batch's, and the progress bar
    shows the same figures."""
    train, valid = splits[0].head(4000), splits[0].head(5000)  # validation: two batches of up to 4096
    model = ctr.FM(spec, embedding_dim=4, batch_size=16, l2=1e-3, learning_rate=0.01, weight_averaging=None)
    model.fit(train, epochs=1, verbose=0)
    # Then nothing more is learnt, so that every batch is scored by the weights evaluation uses.
    model.network_.optimizer.learning_rate = 0.0
    capsys.readouterr()
    history = model.fit(train, validation_data=valid, epochs=1, verbose=1).history  # two calls of 128 steps
    np.testing.assert_allclose(history["loss"], model.evaluate(train)["logloss"], rtol=1e-4)
    np.testing.assert_allclose(history["val_loss"], model.evaluate(valid)["logloss"], rtol=1e-4)
    assert min(history["regularization_loss"]) > 0
    np.testing.assert_allclose(history["total_loss"],
                               np.add(history["loss"], history["regularization_loss"]), rtol=1e-5)
    shown = re.findall(r"- \d+s \d+\w*/step - .*?\blogloss: ([0-9.]+)", capsys.readouterr().out)
    np.testing.assert_allclose([float(x) for x in shown], history["loss"], atol=1e-4)  # the epoch's last line


def test_the_progress_line_shows_each_figure_once(spec, splits, capsys):
    """An epoch's line leaves out the figures that repeat others (a click model's `loss` is its `logloss`,
    shown under that name; `total_loss` their sum with a regularisation it shows apart, or none when the
    model has none), which the History keeps; a progress bar of the caller's own is Keras' line as it stands."""
    train, valid = splits[0].head(2000), splits[1].head(500)
    lines = {}
    for l2 in (1e-3, 0.0):
        capsys.readouterr()
        model = ctr.FM(spec, embedding_dim=4, batch_size=256, l2=l2)
        history = model.fit(train, validation_data=valid, epochs=1, verbose=2).history
        lines[l2] = capsys.readouterr().out
        assert {"logloss", "total_loss", "val_logloss", "val_total_loss", "regularization_loss"} <= set(history)
        shown = dict(re.findall(r" - (\w+): ([-+.e0-9]+)", lines[l2]))
        expected = ["logloss", "regularization_loss", "val_auc", "val_logloss"]
        assert list(shown) == (expected if l2 else expected[:1] + expected[2:]), lines[l2]
        assert float(shown["logloss"]) == pytest.approx(history["loss"][0], abs=1e-4)
    model.fit(train, validation_data=valid, epochs=1, verbose=2, callbacks=[keras.callbacks.ProgbarLogger()])
    line = capsys.readouterr().out
    assert line.count("val_auc") == 1 and "total_loss" in line and "val_loss" in line, line


def test_fit_accepts_parquet_paths(spec, splits, tmp_path):
    splits[0].head(1500).to_parquet(tmp_path / "train.parquet")
    model = ctr.FM(spec, embedding_dim=4)
    model.fit(tmp_path / "train.parquet", epochs=1, verbose=0)
    assert model.predict(splits[2].head(10)).shape == (10,)


def test_a_model_takes_a_request_as_columns_as_its_export_does(trained, splits):
    import pyarrow as pa

    rows = splits[2].head(7)
    expected = trained["fm"].predict(rows)
    request = {c: rows[c].tolist() for c in rows.columns}
    np.testing.assert_array_equal(trained["fm"].predict(request), expected)
    np.testing.assert_array_equal(trained["fm"].predict(pa.RecordBatch.from_pandas(rows)), expected)
    assert trained["fm"].evaluate(request)["rows"] == 7


def test_clear_errors_before_training(spec, frame):
    with pytest.raises(ctr.NotFittedError, match="not trained yet"):
        ctr.FM(spec).predict(frame.head(3))
    with pytest.raises(ctr.DataError, match="no rows"):
        ctr.FM(spec).fit(frame.head(0), verbose=0)
    with pytest.raises(ctr.DataError, match=r"column 'price' is missing"):
        ctr.FM(spec).fit(frame.drop(columns="price"), verbose=0)
    with pytest.raises(ctr.DataError, match="binary label must be 0 or 1"):
        binary = ctr.FeatureSpec(spec.features, label=ctr.Label("rating"))
        ctr.FM(binary).fit(frame.head(100), verbose=0)
    with pytest.raises(ctr.DataError, match=r"no label section; .* a recommender .* ctr\.data\.add_negatives"):
        ctr.FM(ctr.FeatureSpec(spec.features))


def test_adam_moves_only_the_rows_a_batch_used_and_dense_weights_as_keras_adam():
    """Row-wise (lazy) Adam: a row absent from a step keeps its weights and moments; duplicate rows
    in a batch add up; dense variables follow Keras' Adam exactly."""
    from ctr.models._adam import LazyAdam

    start = np.arange(15, dtype=np.float32).reshape(5, 3) / 10
    table, dense = tf.Variable(start), tf.Variable([1.0, -2.0, 3.0])
    reference_table, reference_dense = tf.Variable(start), tf.Variable([1.0, -2.0, 3.0])
    ours, keras_adam = LazyAdam(0.1), keras.optimizers.Adam(0.1)
    rows = tf.constant([[0.5, -1.0, 2.0], [1.0, 1.0, 1.0], [0.25, 0.0, -1.0]])

    def step(indices, optimizer, variables):
        gradients = [tf.IndexedSlices(rows[: len(indices)], tf.constant(indices)), tf.constant([0.3, -0.2, 0.1])]
        optimizer.apply_gradients(zip(gradients, variables, strict=True))

    step([0, 2, 0], ours, [table, dense])  # row 0 twice: its gradient is the two rows' sum
    step([0, 2, 0], keras_adam, [reference_table, reference_dense])
    np.testing.assert_allclose(table.numpy(), reference_table.numpy(), atol=1e-6)  # fresh moments: the same step
    after_one = table.numpy()
    momentum = ours._momentums[ours._index_dict[ours._var_key(table)]].numpy()
    for _ in range(3):
        step([1], ours, [table, dense])
        step([1], keras_adam, [reference_table, reference_dense])
    untouched = [0, 2, 3, 4]
    np.testing.assert_array_equal(table.numpy()[untouched], after_one[untouched])
    np.testing.assert_array_equal(ours._momentums[ours._index_dict[ours._var_key(table)]].numpy()[untouched],
                                  momentum[untouched])
    assert not np.allclose(table.numpy()[1], after_one[1])
    assert not np.allclose(reference_table.numpy()[0], after_one[0])  # Keras' Adam keeps moving row 0
    np.testing.assert_allclose(dense.numpy(), reference_dense.numpy(), rtol=1e-5)  # a fused kernel: float order


def test_adam_catching_up_on_skipped_rows_matches_keras_adam_when_a_row_returns():
    """With `catch_up`, a row's skipped steps are applied when it is next used: the row then holds
    what Keras' Adam, which moves every row at every step, gives it; until then it waits."""
    from ctr.models._adam import LazyAdam

    start = np.arange(12, dtype=np.float32).reshape(4, 3) / 10
    table, reference = tf.Variable(start), tf.Variable(start)
    ours, keras_adam = LazyAdam(0.01, catch_up=True), keras.optimizers.Adam(0.01)
    rng = np.random.default_rng(0)
    for optimizer, variable in ((ours, table), (keras_adam, reference)):
        optimizer.build([variable])
        optimizer.iterations.assign(10_000)  # bias corrections settled, as in a trained model

    def step(indices):
        values = tf.constant(rng.normal(size=(len(indices), 3)), tf.float32)
        for optimizer, variable in ((ours, table), (keras_adam, reference)):
            optimizer.apply_gradients([(tf.IndexedSlices(values, tf.constant(indices)), variable)])

    step([0, 1, 2])
    for _ in range(6):
        step([0])  # rows 1 and 2 skipped
        assert not np.allclose(reference.numpy()[1], table.numpy()[1])  # Keras' Adam moves them meanwhile
    step([0, 1])
    np.testing.assert_allclose(table.numpy()[[0, 1]], reference.numpy()[[0, 1]], rtol=1e-4, atol=1e-6)
    assert np.abs(table.numpy()[2] - reference.numpy()[2]).max() > 1e-3  # row 2 still waits
    step([2, 3])  # row 3 never had moments: nothing to catch up on
    np.testing.assert_allclose(table.numpy()[[2, 3]], reference.numpy()[[2, 3]], rtol=1e-4, atol=1e-6)
    for mine, theirs in ((ours._momentums, keras_adam._momentums), (ours._velocities, keras_adam._velocities)):
        np.testing.assert_allclose(mine[0].numpy()[[2, 3]], theirs[0].numpy()[[2, 3]], rtol=1e-5, atol=1e-8)


def test_click_models_catch_up_on_skipped_rows_by_default_as_the_recommenders_do(trained, spec, splits):
    """"momentum" is every Adam-trained model's default (on Frappe the lazy form let DeepFM's
    probabilities grow overconfident); "lazy" still turns the catch-up off, and the config says which."""
    for name, model in trained.items():
        assert model.network_.optimizer.catch_up, name
        assert model.get_config()["embedding_updates"] == "momentum", name
    lazy = ctr.FM(spec, embedding_dim=4, batch_size=256, embedding_updates="lazy")
    lazy.fit(splits[0].head(512), epochs=1, verbose=0)
    assert not lazy.network_.optimizer.catch_up
    assert lazy.get_config()["embedding_updates"] == "lazy"


def test_adam_catching_up_past_2_to_the_24_steps_never_goes_back():
    """A float32 step count reads two consecutive steps as one past 2^24: a row used in both is then
    updated as the lazy form does, not with a negative catch-up."""
    from ctr.models._adam import LazyAdam

    tables = [tf.Variable(np.ones((3, 2), np.float32)) for _ in range(2)]
    optimizers = [LazyAdam(0.01, catch_up=True), LazyAdam(0.01)]
    for optimizer, table in zip(optimizers, tables, strict=True):
        optimizer.build([table])
        optimizer.iterations.assign(2**24 + 2)  # steps 2^24 + 3 and 2^24 + 4 both read as 2^24 + 4
        for value in (1.0, -0.5):
            optimizer.apply_gradients([(tf.IndexedSlices(tf.constant([[value, 2 * value]]), tf.constant([0])), table)])
    np.testing.assert_allclose(tables[0].numpy(), tables[1].numpy(), rtol=1e-6)


def test_weight_average_sampled_every_few_steps_counts_each_sample_for_its_steps():
    from ctr.models._adam import LazyAdam

    weight = tf.Variable([0.0])
    optimizer = LazyAdam(1.0, average=0.9, average_every=3)
    values, expected = [], 0.0
    for _ in range(7):
        optimizer.apply_gradients([(tf.constant([-1.0]), weight)])
        values.append(float(weight.numpy()[0]))
    optimizer.sample_average([weight])  # as at an epoch's end: the last step counts too
    # Samples after steps 3 and 6 (each standing for 3 steps), then after step 7 (for 1).
    for done, steps in ((3, 3), (6, 3), (7, 1)):
        momentum = min(0.9, done / (9 + done)) ** steps
        expected = momentum * expected + (1 - momentum) * values[done - 1]
    average = optimizer._model_variables_moving_average[0].numpy()[0]
    assert average == pytest.approx(expected, rel=1e-5)


def test_fit_runs_several_steps_a_call_unless_a_callback_wants_every_batch(spec, splits):
    train = splits[0].head(1000)
    seen: dict[str, list[int]] = {"per call": [], "batches": []}

    class EpochsOnly(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            seen["per call"].append(int(self.model.steps_per_execution.numpy()))

    class EveryBatch(EpochsOnly):
        def on_train_batch_end(self, batch, logs=None):
            seen["batches"].append(batch)

    model = ctr.FM(spec, embedding_dim=4, batch_size=100)
    model.fit(train, epochs=1, callbacks=[EpochsOnly()], verbose=0)
    model.fit(train, epochs=1, callbacks=[EveryBatch()], verbose=0)
    assert seen["per call"] == [128, 1]  # 32k rows' worth of steps a call, at most 128
    assert seen["batches"] == list(range(10))
    assert int(model.network_.optimizer.iterations.numpy()) == 20
    assert int(model.network_.steps_per_execution.numpy()) == 1  # prediction runs a batch at a time
    assert model.predict(train.head(3)).shape == (3,)


def test_a_fit_traces_its_training_and_validation_steps_once(spec, splits, monkeypatch):
    """Tracing is most of a first epoch on small data. Keras' own multi-step loop traces every step
    a second time, and so does tf.function when the first trace makes the variables."""
    from ctr.models.base import ReplicaModel

    traced: list[bool] = []
    step = ReplicaModel._step
    monkeypatch.setattr(ReplicaModel, "_step", lambda self, inputs, training: (traced.append(training),
                                                                               step(self, inputs, training))[1])
    counts = []
    for callbacks in ([], [keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: None)]):
        traced.clear()
        model = ctr.FM(spec, embedding_dim=4, batch_size=100)
        model.fit(splits[0].head(1000), validation_data=splits[1].head(500), epochs=2, callbacks=callbacks,
                  verbose=0)
        counts.append((traced.count(True), traced.count(False)))
        assert int(model.network_.optimizer.iterations.numpy()) == 20
    assert counts == [(1, 1), (1, 1)], counts  # several steps a call, then one step a call


def test_every_training_and_validation_pipeline_runs_without_tf_data_autotuning(spec, splits, tmp_path,
                                                                                monkeypatch):
    """A fit makes a new iterator each epoch, and deleting one that autotuning watched waits out the
    autotuning thread's sleep (seconds, idle, at every epoch's end), so no pipeline may ask for it."""
    seen: list = []

    class StopBeforeTrainingError(Exception):
        """Stops a fit once Keras has its datasets: the pipelines are what is checked, not the training."""

    def record(self, x, validation_data=None, **kwargs):
        seen.extend((x, validation_data))
        raise StopBeforeTrainingError

    monkeypatch.setattr(keras.Model, "fit", record)
    train, valid = splits[0].head(1000), splits[1].head(500)
    train.to_parquet(tmp_path / "train.parquet")
    valid.to_parquet(tmp_path / "valid.parquet")
    fits = [lambda: ctr.FM(spec, embedding_dim=4, batch_size=100).fit(train, validation_data=valid, verbose=0),
            lambda: ctr.FM(spec, embedding_dim=4, batch_size=100).fit(
                tmp_path / "train.parquet", validation_data=tmp_path / "valid.parquet", in_memory=False, verbose=0),
            lambda: ctr.MatrixFactorization(spec, embedding_dim=4).fit(train, validation_data=valid, verbose=0),
            lambda: ctr.TwoTower(spec, embedding_dim=4).fit(train, validation_data=valid, verbose=0)]
    for fit in fits:
        with pytest.raises(StopBeforeTrainingError):
            fit()
    assert len(seen) == 8 and all(isinstance(ds, tf.data.Dataset) for ds in seen), seen
    assert [ds.options().autotune.enabled for ds in seen] == [False] * 8


def test_a_streamed_parquet_file_sorted_by_its_label_is_mixed_in_every_stretch(spec, splits, tmp_path, monkeypatch):
    """Streamed rows were shuffled only within a chunk, read in the file's order: a file sorted by its label
    (or by time) trained on one class chunk after chunk. Its row groups are now read in a fresh random order
    each epoch (chunks made small here, as a large file's are to its row groups); the same seed gives the
    same order."""
    from ctr import data as ctr_data

    monkeypatch.setattr(ctr_data, "CHUNK_ROWS", 1000)
    seen: list = []

    class StopBeforeTrainingError(Exception):
        """Stops a fit once Keras has its dataset: the batches are what is checked."""

    def record(self, x, **kwargs):
        seen.append(x)
        raise StopBeforeTrainingError

    monkeypatch.setattr(keras.Model, "fit", record)
    rows = splits[0].sort_values(spec.label.column, kind="stable")
    rows.to_parquet(tmp_path / "sorted.parquet", row_group_size=200)
    for _ in range(2):
        with pytest.raises(StopBeforeTrainingError):
            ctr.FM(spec, embedding_dim=4, batch_size=100, seed=3).fit(tmp_path / "sorted.parquet", in_memory=False,
                                                                        verbose=0)
    epochs = [[labels.numpy() for _, labels in seen[0]] for _ in range(2)]
    one_class = np.mean([batch.min() == batch.max() for batch in epochs[0]])
    assert one_class < 0.25, one_class  # 0.90 when read in the file's order
    assert sum(map(len, epochs[0])) == len(rows) and sorted(np.concatenate(epochs[0])) == sorted(
        np.concatenate(epochs[1]))
    assert not np.array_equal(np.concatenate(epochs[0]), np.concatenate(epochs[1]))  # a fresh order each epoch
    again = [labels.numpy() for _, labels in seen[1]]
    assert np.array_equal(np.concatenate(again), np.concatenate(epochs[0]))  # the same seed, the same order


def test_a_streamed_csv_sorted_by_its_label_is_warned_of(spec, splits, tmp_path, monkeypatch):
    """A CSV is streamed in its order, its rows shuffled within each chunk: sorted by its label, most batches
    are of one class, which is named with what to do, once; a shuffled one trains without a word (chunks
    made small here, as a large file's are)."""
    import warnings

    from ctr import data as ctr_data

    monkeypatch.setattr(ctr_data, "CHUNK_ROWS", 200)
    rows = splits[0].head(4000)
    rows.sort_values(spec.label.column, kind="stable").to_csv(tmp_path / "sorted.csv", index=False)
    rows.to_csv(tmp_path / "shuffled.csv", index=False)
    label = spec.label
    with pytest.warns(UserWarning) as caught:
        ctr.LogisticRegression(spec, batch_size=100).fit(tmp_path / "sorted.csv", in_memory=False, epochs=2,
                                                         verbose=0)
    said = [str(w.message) for w in caught if "sorted by their label" in str(w.message)]
    assert len(said) == 1 and re.fullmatch(
        rf"LogisticRegression\.fit: (\d+) of the 40 batches of the first epoch were all clicks or all non-clicks \(a "
        rf"click: {label.column} >= 4\), where {ctr.data.labels(rows, spec).mean():.1%} of the rows are clicks: the "
        rf"rows look sorted by their label '{label.column}', and streamed rows are shuffled within chunks of 200 "
        r"\(a Parquet file's row groups are read in a random order too\)\. Shuffle the file first, write it as "
        r"Parquet, or fit in memory \(in_memory=True\)", said[0]), said
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ctr.LogisticRegression(spec, batch_size=100).fit(tmp_path / "shuffled.csv", in_memory=False, epochs=1,
                                                         verbose=0)
    # A Parquet file of one row group has no pieces to read in another order: told to write smaller ones.
    rows.sort_values(spec.label.column, kind="stable").to_parquet(tmp_path / "sorted.parquet")
    with pytest.warns(UserWarning, match=r"of 200 \(and its row groups read in a random order: write it in smaller "
                                         r"ones, e\.g\. row_group_size=100_000\)\. Shuffle the file first, or fit"):
        ctr.LogisticRegression(spec, batch_size=100).fit(tmp_path / "sorted.parquet", in_memory=False, epochs=1,
                                                         verbose=0)


def test_several_models_in_one_session_raise_no_retracing_warning(spec, splits):
    """A sweep trains model after model. Each traces its own steps once or twice, which TensorFlow
    must not count together as "excessive retracing" of one function (tensorflow#42441)."""
    import logging

    warnings: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: warnings.append(record.getMessage())
    tf.get_logger().addHandler(handler)
    try:
        for seed in range(3):
            model = ctr.LogisticRegression(spec, batch_size=100, seed=seed)
            model.fit(splits[0].head(500), validation_data=splits[1].head(200), epochs=1, verbose=0)
            model.predict(splits[2].head(150), batch_size=100)  # a full batch and a shorter one
    finally:
        tf.get_logger().removeHandler(handler)
    assert not [w for w in warnings if "retracing" in w], warnings


def test_weight_averaging_is_evaluated_but_training_goes_on_from_the_raw_weights(spec, splits):
    seen: dict[str, list[np.ndarray]] = {}

    class Watch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen[f"end {epoch}"] = [v.numpy() for v in self.model.trainable_variables]

        def on_epoch_begin(self, epoch, logs=None):
            seen[f"begin {epoch}"] = [v.numpy() for v in self.model.trainable_variables]

    model = ctr.LogisticRegression(spec, batch_size=32, weight_averaging=0.99)
    model.fit(splits[0].head(1000), epochs=2, callbacks=[Watch()], verbose=0)
    optimizer = model.network_.optimizer
    averages = [a.numpy() for a in optimizer._model_variables_moving_average]
    # Training ends holding the average, and later callbacks saw it at every epoch's end...
    for variable, average, seen_end in zip(model.network_.trainable_variables, averages, seen["end 1"],
                                           strict=True):
        np.testing.assert_allclose(variable.numpy(), average, rtol=1e-6)
        np.testing.assert_allclose(seen_end, average, rtol=1e-6)
    # ...but the second epoch started from the raw weights, not from the first epoch's average.
    assert any(not np.allclose(b, e) for b, e in zip(seen["begin 1"], seen["end 0"], strict=True))
    with pytest.raises(ValueError, match="weight_averaging"):
        ctr.DeepFM(spec, weight_averaging=1.5)


@pytest.mark.parametrize("model", [ctr.LogisticRegression, ctr.FM, ctr.DeepFM])
def test_a_click_model_starts_at_the_training_rows_click_rate(model, tmp_path):
    """Its bias starts at their log-odds (weighted by label.weight), in memory or streamed: a rate of 10%
    was first predicted as 0.5, and Adam's small steps took thousands of them to bring the bias there."""
    rng = np.random.default_rng(0)
    rows = pd.DataFrame({"user_id": rng.integers(0, 50, 2000), "clicked": (rng.random(2000) < 0.1).astype(int),
                         "w": np.where(rng.random(2000) < 0.5, 1.0, 3.0)})
    rate = rows["clicked"].mean()
    weighted = np.average(rows["clicked"], weights=rows["w"])
    rows.to_parquet(tmp_path / "rows.parquet")
    for label, expected, in_memory in ((ctr.Label("clicked"), rate, True), (ctr.Label("clicked"), rate, False),
                                       (ctr.Label("clicked", weight="w"), weighted, True)):
        spec = ctr.FeatureSpec([ctr.Categorical("user_id", dtype="int")], label=label)
        fitted = model(spec, learning_rate=1e-9, seed=0)  # training does not move it: the start is seen
        fitted.fit(tmp_path / "rows.parquet", epochs=1, verbose=0, in_memory=in_memory)
        assert fitted.predict(rows).mean() == pytest.approx(expected, abs=2e-3), (label, in_memory)


def test_logistic_regression_learns_at_ten_times_the_others_rate_unless_told(spec):
    """One weight a value and a convex loss: at 1e-3 the baseline was still climbing after 5 epochs."""
    assert ctr.LogisticRegression(spec).get_config()["learning_rate"] == 1e-2
    assert ctr.LogisticRegression(spec, learning_rate=3e-3).get_config()["learning_rate"] == 3e-3
    assert ctr.FM(spec).get_config()["learning_rate"] == ctr.DeepFM(spec).get_config()["learning_rate"] == 1e-3
    with pytest.raises(ctr.ArgumentError, match=r"LogisticRegression: learning_rate must be a number above 0, got 0"):
        ctr.LogisticRegression(spec, learning_rate=0)
