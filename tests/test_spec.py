"""Feature specs: YAML and Python describe the same thing, and every mistake is named by its path."""

from __future__ import annotations

import pytest

import ctr
from ctr.spec import FeatureSpec

from .conftest import ROOT

GOOD = """
name: tiny
label: {column: clicked}
features:
  - {name: user_id, kind: categorical, dtype: int, role: user}
  - {name: item_id, role: item}
  - {name: genres, kind: multi_categorical, role: item}
"""


def test_every_bundled_spec_loads_and_round_trips_through_yaml():
    for path in sorted((ROOT / "feature_specs").glob("*.yaml")):
        spec = FeatureSpec.from_yaml(path)
        assert FeatureSpec.from_yaml(spec.to_yaml()) == spec, path


def test_bundled_synthetic_yaml_is_the_embedded_spec():
    assert FeatureSpec.from_yaml(ROOT / "feature_specs" / "synthetic.yaml") == ctr.datasets.synthetic_spec()
    assert FeatureSpec.from_yaml(ROOT / "feature_specs" / "frappe.yaml") == ctr.datasets.frappe_spec()
    assert FeatureSpec.from_yaml(ROOT / "feature_specs" / "movielens-100k.yaml") == ctr.datasets.movielens_spec()
    # The shell's --spec NAME: each data set's ready spec, carried by the package.
    for name, spec in ctr.datasets.READY_SPECS.items():
        assert FeatureSpec.of(name) == spec() and spec().name == name.replace("-1m", "-100k")
    # In Python too, as a model's spec.
    assert ctr.LogisticRegression("movielens-100k").spec == ctr.datasets.movielens_spec()
    assert ctr.Popularity("frappe").spec == ctr.FeatureSpec.of(ctr.datasets.frappe_spec()) == ctr.datasets.frappe_spec()
    with pytest.raises(ctr.SpecError, match=r"no spec file at movielens\.yaml; or name a ready spec: synthetic, "
                                             r".*, criteo$"):
        ctr.DeepFM("movielens.yaml")  # a file's name: no ready name suggested
    with pytest.raises(ctr.SpecError, match=r"no spec file at movielens-100; .*, criteo \(did you mean "
                                             r"'movielens-100k'\?\)"):
        ctr.DeepFM("movielens-100")


def test_python_and_yaml_build_the_same_spec():
    built = ctr.FeatureSpec(
        name="tiny", label=ctr.Label("clicked"),
        features=[ctr.Categorical("user_id", dtype="int", role="user"), ctr.Categorical("item_id", role="item"),
                  ctr.MultiCategorical("genres", role="item")])
    assert built == FeatureSpec.from_yaml(GOOD)
    assert ctr.FeatureSpec(built.features, label="clicked", name="tiny") == built  # as YAML's `label: clicked`
    with pytest.raises(ctr.SpecError, match=r"label: expected ctr.Label\(...\) or a column name, got int"):
        ctr.FeatureSpec(built.features, label=1)
    assert built.columns == ["user_id", "item_id", "genres", "clicked"]
    assert [f.name for f in built.by_role("item")] == ["item_id", "genres"]


def test_a_spec_argument_takes_parsed_yaml_or_json_and_names_what_else_it_takes(tmp_path):
    import json

    import pandas as pd
    import yaml

    parsed = yaml.safe_load(GOOD)
    assert ctr.FM(parsed).spec == ctr.FM(json.loads(json.dumps(parsed))).spec == FeatureSpec.from_yaml(GOOD)
    with pytest.raises(ctr.SpecError, match=r"features\[0\]\.kind: 'categoricl' is not one of"):
        ctr.DeepFM({"features": [{"name": "a", "kind": "categoricl"}]})
    with pytest.raises(ctr.SpecError, match=r"expected a FeatureSpec, a YAML file's path, a ready spec's name or a "
                                            r"mapping such as a parsed YAML file, got int$"):
        ctr.FM(5)
    with pytest.raises(ctr.SpecError, match=r"got list; give the features with their label: ctr\.FeatureSpec\("):
        ctr.TwoTower([ctr.Categorical("user_id", role="user"), ctr.Categorical("item_id", role="item")])
    # The data helpers and inspect_data take a spec as the models do.
    rows = pd.DataFrame({"user_id": [1, 1, 2], "item_id": ["x", "y", "z"], "genres": ["", "", ""],
                         "clicked": [1, 0, 1]})
    spec_file = tmp_path / "spec.yaml"
    spec_file.write_text(GOOD)
    assert len(ctr.data.add_negatives(rows, parsed, 1, label="sampled")) == 6
    assert ctr.inspect_data(rows, str(spec_file)).rows == 3
    with pytest.raises(ctr.ArgumentError, match="inspect_data: give the spec"):
        ctr.inspect_data(rows)


def _error(text: str) -> str:
    with pytest.raises(ctr.SpecError) as err:
        FeatureSpec.from_yaml(text)
    return str(err.value)


def _with_feature(line: str) -> str:
    return GOOD + f"  - {line}\n"


@pytest.mark.parametrize("feature, expected", [
    ("{name: x, kind: categoricl}",
     "features[3].kind: 'categoricl' is not one of 'categorical', 'multi_categorical', 'numeric', 'text', "
     "'timestamp', 'history', 'vector' (did you mean 'categorical'?)"),
    ("{kind: numeric}", "features[3].name: required"),
    ("{name: item_id}", "features[3].name: 'item_id' is already used by features[1]"),
    ("{name: x, role: seller}", "features[3].role: 'seller' is not one of 'user', 'item', 'context'"),
    ("{name: x, min_count: two}", "features[3].min_count: expected an integer, got str 'two'"),
    ("{name: x, min_count: 0}", "features[3].min_count: must be at least 1, got 0"),
    ("{name: x, colour: red}", "features[3].colour: unknown field"),
    # Fields of the model, the fit or another spec language, said where they go rather than what they are near.
    ("{name: x, embedding_dim: 8}", "features[3].embedding_dim: unknown field; expected one of 'column', 'dtype', "
     "'hash_buckets', 'id_dropout', 'max_tokens', 'min_count', 'name', 'oov_buckets', 'role', 'shared_embedding' "
     "(the embedding size is the model's, one for every field, since FM's interactions take vectors of one width: "
     "ctr.DeepFM(spec, embedding_dim=8), or ctr fit --embedding-dim 8)"),
    ("{name: x, type: numeric}", "features[3].type: unknown field; expected one of 'column', 'dtype', 'hash_buckets', "
     "'id_dropout', 'max_tokens', 'min_count', 'name', 'oov_buckets', 'role', 'shared_embedding' (a feature's type is "
     "its kind: kind: numeric)"),
    ("{name: x, learning_rate: 0.01}", "(a training setting, not the spec's: the model's argument"),
    ("{name: x, kind: numeric, transform: zscore}", "features[3].transform: 'zscore' is not one of"),
    ("{name: 'zip code'}", "features[3].name: 'zip code' must start with a letter and hold only letters, digits "
                           "and '_' (it becomes a serving input name); to read the data column 'zip code', name the "
                           "feature e.g. 'zip_code' and set column: 'zip code'"),
    ("{name: 'âge (ans)'}", "name the feature e.g. 'age_ans' and set column: 'âge (ans)'"),
    ("{name: 2nd.cat, column: c}", "features[3].name: '2nd.cat' must start with a letter and hold only letters, "
                                   "digits and '_' (it becomes a serving input name); name it e.g. 'f_2nd_cat'"),
    ("{name: t, kind: timestamp, parts: [hour, weekday]}", "features[3].parts[1]: 'weekday' is not one of"),
    ("{name: x, dtype: float}", "features[3].dtype: 'float' is not one of 'string', 'int'"),
    ("{name: x, hash_buckets: 10, max_tokens: 5}", "set either hash_buckets or max_tokens"),
    ("{name: clicked}", "features[3]: reads the label column 'clicked'"),
    ("{name: x, kind: numeric, shared_embedding: item_id}", "features[3].shared_embedding: a number has no vocabulary"),
    ("just-a-string", "features[3]: expected a mapping with name and kind, got str 'just-a-string'"),
    ("user_id", "features[3]: expected a mapping with name and kind, got str 'user_id'; write it {name: user_id}"),
    ("{name: t, kind: timestamp, utc_offset_hours: 30}", "features[3].utc_offset_hours: local time is between"),
    ("{name: t, kind: timestamp, timezone: Europe/Berln}",
     "features[3].timezone: 'Europe/Berln' is no IANA time zone (such as 'Europe/Berlin', 'America/New_York' or "
     "'Asia/Kolkata') (did you mean 'Europe/Berlin'?)"),
    ("{name: t, kind: timestamp, timezone: Asia/Tokyo, utc_offset_hours: 9}",
     "features[3]: give utc_offset_hours or timezone, not both"),
    ("{name: t, kind: timestamp, role: item, timezone_feature: item_idd}",
     "features[3].timezone_feature: 'item_idd' must name a categorical feature of text with a vocabulary and role "
     "'item', whose values are IANA time zones ('Europe/Berlin') (did you mean 'item_id'?)"),
    ("{name: t, kind: timestamp, timezone_feature: user_id}",
     "features[3].timezone_feature: 'user_id' must name a categorical feature of text with a vocabulary and role "
     "'user' or 'context', whose values are IANA time zones ('Europe/Berlin'); 'user_id' is a categorical feature of "
     "integer ids of role 'user'"),
    ("{name: t, kind: timestamp, role: item, timezone: Asia/Tokyo, timezone_feature: item_id}",
     "features[3]: give timezone_feature (each row's zone) or one zone for all rows (timezone, utc_offset_hours), "
     "not both"),
    ("{name: t, kind: timestamp, format: '%d/%m/%Y'}",
     "features[3].format: '%d/%m/%Y' is no time written as digits, year first: one of '%Y%m', '%Y%m%d',"),
    ("{name: t, kind: timestamp, format: '%Y%m%d'}",
     "features[3].parts: by default hour and day_of_week, and '%Y%m%d' writes no hour; set parts to some of 'month', "
     "'day_of_month', 'day_of_week'"),
    ("{name: t, kind: timestamp, format: '%y%m', parts: [month, day_of_week]}",
     "features[3].parts[1]: 'day_of_week' is not written in '%y%m'; its parts: 'month'"),
    ("{name: t, kind: timestamp, format: '%y%m%d%H', unit: ms}",
     "features[3]: unit counts epoch numbers, and format reads digits written as a date; give one"),
    ("{name: t, kind: timestamp, format: '%y%m%d%H', timezone: Asia/Tokyo}",
     "features[3]: a time written as digits (%y%m%d%H) is read as written, its calendar parts its own; timezone, "
     "utc_offset_hours and timezone_feature are for epoch times"),
    ("{name: h, kind: history, items: item_id, role: item}", "features[3].role: a history describes the user"),
    ("{name: x, dtype: no}", "features[3].dtype: False is not one of 'string', 'int' (YAML reads an unquoted yes, no, "
                             "on, off, true or false as a boolean: quote the word, e.g. 'no')"),
    ("{name: on}", "features[3].name: expected a string, got bool True (YAML reads an unquoted yes"),
    ("{name: h, kind: history, items: user_id}",
     "features[3].items: 'user_id' must name a categorical item feature with a vocabulary (the ids the history "
     "lists); 'user_id' is a categorical feature of role 'user'"),
])
def test_spec_errors_name_the_path_and_the_rule(feature, expected):
    assert expected in _error(_with_feature(feature))


def test_spec_level_errors():
    assert "<yaml>" in _error("features: [unclosed\n")
    assert "features: required" in _error("name: x\nlabel: y\n")
    assert "features: expected a list, got dict; write each feature as an item of a list, its name in it: " \
           "'- {name: user_id, kind: categorical}'" in _error("features: {a: 1}\n")
    assert _error("\n").endswith("<root>: the spec is empty: expected a mapping with 'features' and 'label'")
    assert "expected a mapping" in _error("- a\n- b\n")
    assert "label.column: required" in _error("label: {threshold: 4}\nfeatures: [{name: a}]\n")
    assert "labl: unknown field" in _error("labl: y\nfeatures: [{name: a}]\n")
    assert "epochs: unknown field; expected one of 'crosses', 'description', 'features', 'label', 'name' (a training " \
           "setting, not the spec's: the model's argument (ctr.DeepFM(spec, learning_rate=0.001), model.fit(data, " \
           "epochs=5)), or ctr fit's flag (--epochs 5, --param NAME=VALUE))" in _error(
               "epochs: 5\nfeatures: [{name: a}]\n")
    assert "is not valid YAML (YAML indents with spaces, not tabs: replace the tabs): while scanning" in _error(
        "features:\n\t- {name: a}\n")
    assert "features: the spec needs at least one feature" in _error("features: []\n")
    with pytest.raises(ctr.SpecError, match="no spec file"):
        FeatureSpec.from_yaml("does/not/exist.yaml")
    with pytest.raises(ctr.SpecError, match="is a folder, not a spec file"):
        FeatureSpec.from_yaml(ROOT / "feature_specs")


def test_a_key_given_twice_is_refused_with_its_line_not_silently_the_last(tmp_path):
    """YAML forbids it, and PyYAML would keep the last: this feature would have been numeric."""
    path = tmp_path / "twice.yaml"
    path.write_text(GOOD + "  - {name: x, kind: categorical,\n     kind: numeric}\n")
    with pytest.raises(ctr.SpecError, match=r"<yaml>: \S+twice\.yaml is not valid YAML: the key 'kind' is given twice "
                                            r"in one mapping \(first on line \d+\)\n  in \S+twice\.yaml, line \d+"):
        FeatureSpec.from_yaml(path)
    # A merge key's values may be overridden, as YAML allows.
    merged = FeatureSpec.from_yaml("name: m\nfeatures:\n  - &a {name: x, kind: categorical, min_count: 2}\n"
                                   "  - {<<: *a, name: y, min_count: 3}\n")
    assert [(f.name, f.min_count) for f in merged.features] == [("x", 2), ("y", 3)]


def test_all_problems_are_reported_at_once():
    message = _error(GOOD + "  - {name: a, kind: nope}\n  - {name: b, role: seller}\n")
    assert "features[3].kind" in message and "features[4].role" in message


def test_python_construction_is_validated_too():
    with pytest.raises(ctr.SpecError, match=r"features\[0\].min_count: expected an integer, got str"):
        ctr.FeatureSpec([ctr.Categorical("a", min_count="2")])
    with pytest.raises(ctr.SpecError, match=r"features\[1\]: expected a feature such as ctr.Categorical"):
        ctr.FeatureSpec([ctr.Categorical("a"), {"name": "b"}])
    for single, got in ((ctr.Categorical("a"), "Categorical"), ("a", "str")):  # one feature, not a list of one
        with pytest.raises(ctr.SpecError, match=rf"features: expected a list of features such as .*got {got}$"):
            ctr.FeatureSpec(single)
    assert ctr.FeatureSpec(f for f in [ctr.Categorical("a")]).names == ["a"]
    with pytest.raises(ctr.SpecError, match="mix int and string ids"):
        ctr.FeatureSpec([ctr.Categorical("a", dtype="int", shared_embedding="ids"),
                         ctr.Categorical("b", shared_embedding="ids")])


def test_shared_embedding_groups_features():
    spec = ctr.FeatureSpec([ctr.Categorical("item_id"), ctr.MultiCategorical("last_items", shared_embedding="item_id")])
    assert [f.name for f in spec.embedding_groups()["item_id"]] == ["item_id", "last_items"]


def test_describe_lists_every_feature_with_its_input_and_encoding(spec):
    text = spec.describe()
    for feature in spec.features:
        assert feature.name in text
    assert "int64[batch]" in text and "min_count 2" in text and "1 if rating >= 4, else 0" in text
    hashed = ctr.FeatureSpec([ctr.Categorical("zip", hash_buckets=50)]).describe()
    assert "hash into 50 buckets" in hashed and "51" in hashed
