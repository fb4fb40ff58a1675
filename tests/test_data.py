"""Reading data: every source kind, clear errors for columns that do not fit the spec, and splits."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.dataset as pads
import pytest

import ctr
from ctr.data import (
    class_counts,
    iter_chunks,
    labels,
    random_split,
    raw_features,
    read,
    require_both_classes,
    temporal_split,
)
from ctr.datasets.frappe import FRAPPE_FIELDS
from ctr.spec import describe_spec

from .conftest import FRAPPE, ML1M, ML100K, ROOT, needs


def test_parquet_directory_is_streamed_in_chunks(tmp_path, frame):
    folder = tmp_path / "parts"
    folder.mkdir()
    frame.iloc[:5000].to_parquet(folder / "a.parquet")
    frame.iloc[5000:].to_parquet(folder / "b.parquet")
    chunks = list(iter_chunks(folder, ["user_id", "genres"], chunk_rows=1000))
    assert max(len(c) for c in chunks) <= 1000
    assert sum(len(c) for c in chunks) == len(frame)
    assert list(chunks[0].columns) == ["user_id", "genres"]
    assert len(read(folder)) == len(frame)
    # Many small files (Spark writes a table as hundreds) come in chunks of chunk_rows, not one a file.
    (tmp_path / "small").mkdir()
    for i in range(30):
        frame.iloc[i * 70:(i + 1) * 70].to_parquet(tmp_path / "small" / f"part-{i:03d}.parquet")
    chunks = list(iter_chunks(tmp_path / "small", ["user_id", "genres"], chunk_rows=1000))
    assert [len(c) for c in chunks] == [1000, 1000, 100]
    pd.testing.assert_frame_equal(pd.concat(chunks, ignore_index=True), frame[["user_id", "genres"]].head(2100))


def test_arrow_ipc_files_and_folders_are_read_as_parquet_is(tmp_path, frame):
    """Feather (version 2, as DataFrame.to_feather writes it) and .arrow files, streamed in chunks."""
    from ctr.data import count_rows

    frame.to_feather(tmp_path / "rows.feather")
    chunks = list(iter_chunks(tmp_path / "rows.feather", ["user_id", "genres"], chunk_rows=1000))
    assert max(len(c) for c in chunks) == 1000 and count_rows(tmp_path / "rows.feather") == len(frame)
    pd.testing.assert_frame_equal(pd.concat(chunks, ignore_index=True), frame[["user_id", "genres"]])
    for country, part in (("de", frame.head(300)), ("fr", frame.tail(200))):
        (tmp_path / "parts" / f"country={country}").mkdir(parents=True)
        part.reset_index(drop=True).to_feather(tmp_path / "parts" / f"country={country}" / "part-0.arrow")
    table = read(tmp_path / "parts")
    assert table["country"].tolist() == ["de"] * 300 + ["fr"] * 200
    pd.testing.assert_frame_equal(table.drop(columns="country"), pd.concat([frame.head(300), frame.tail(200)],
                                                                          ignore_index=True))
    import pyarrow.feather

    pyarrow.feather.write_feather(frame.head(5), tmp_path / "old.feather", version=1)
    for reader in (read, count_rows):
        with pytest.raises(ctr.DataError, match=r"old\.feather: not a readable Arrow IPC \(Feather version 2\) file "
                                                r"\(.*\); a Feather version 1 file converts with pandas\.read_"):
            reader(tmp_path / "old.feather")


def test_a_hive_partitioned_folder_reads_its_key_value_folders_as_columns(tmp_path):
    # As Spark and pyarrow write a table partitioned by country and ZIP code: the key=value folders are
    # columns; a ZIP code keeps its leading zero, an hour stays a number, Hive's null folder is missing.
    rows = pd.DataFrame({"clicked": [1, 0, 1, 1]})
    folders = ["country=de/zip=01234/hour=7", "country=fr%20ouest/zip=75001/hour=13",
               "country=__HIVE_DEFAULT_PARTITION__/zip=10115/hour=0", "country=de/zip=01234/hour=7"]
    for i, folder in enumerate(folders):
        (tmp_path / "t" / folder).mkdir(parents=True, exist_ok=True)
        rows.iloc[[i]].to_parquet(tmp_path / "t" / folder / f"part-{i}.parquet")
    (tmp_path / "t" / "_SUCCESS").touch()
    table = read(tmp_path / "t").sort_values("hour", kind="stable").reset_index(drop=True)
    assert table["zip"].tolist() == ["10115", "01234", "01234", "75001"]
    assert table["hour"].tolist() == [0, 7, 7, 13] and pd.api.types.is_integer_dtype(table["hour"])
    assert table["country"].isna().tolist() == [True, False, False, False]
    assert table["country"].tolist()[1:] == ["de", "de", "fr ouest"]
    assert ctr.data.count_rows(tmp_path / "t") == 4
    assert next(iter_chunks(tmp_path / "t", ["zip"])).columns.tolist() == ["zip"]
    # A column the files hold keeps their values; a file read alone has only its own columns.
    (tmp_path / "own" / "clicked=5").mkdir(parents=True)
    rows.to_parquet(tmp_path / "own" / "clicked=5" / "part.parquet")
    assert read(tmp_path / "own")["clicked"].tolist() == [1, 0, 1, 1]
    assert read(tmp_path / "t" / folders[0] / "part-0.parquet").columns.tolist() == ["clicked"]


def test_a_folder_of_csv_or_json_files_is_read_as_one_table(tmp_path, frame, spec):
    # As Spark writes a table as text: part files (one gzipped, one empty), key=value folders, _SUCCESS and
    # hidden checksums. The files are read in name order, their folders' keys as columns.
    rows = frame.head(900)
    folder = tmp_path / "clicks"
    for day, part in ((1, rows.iloc[:400]), (2, rows.iloc[400:])):
        (folder / f"day={day}").mkdir(parents=True)
        part.to_csv(folder / f"day={day}" / ("part-0.csv.gz" if day == 2 else "part-0.csv"), index=False)
        (folder / f"day={day}" / ".part-0.csv.crc").write_text("crc")
    (folder / "day=2" / "part-1.csv").touch()
    (folder / "_SUCCESS").touch()
    table = read(folder, dtypes=ctr.data.csv_dtypes(spec))
    expected = rows[spec.columns].assign(day=[1] * 400 + [2] * 500).reset_index(drop=True)
    pd.testing.assert_frame_equal(table[expected.columns].astype(expected.dtypes), expected)  # '086' keeps its zero
    assert pd.api.types.is_integer_dtype(table["day"]) and ctr.data.count_rows(folder) == 900
    chunks = list(iter_chunks(folder, ["day", "user_id"], chunk_rows=300))
    assert [len(c) for c in chunks] == [300, 300, 300] and list(chunks[0].columns) == ["day", "user_id"]
    assert [len(c) for c in iter_chunks(folder, chunk_rows=1000)] == [900]  # the files' rows in one chunk
    model = ctr.LogisticRegression(spec, seed=0)
    model.fit(folder, epochs=1, verbose=0)
    np.testing.assert_allclose(model.predict(folder), model.predict(rows), atol=1e-6)
    assert "{name: zip_prefix, kind: categorical" in ctr.draft_spec(folder, label="rating", threshold=4).to_yaml()
    # JSON lines alike, and a file of other columns, or of another format, is named.
    (tmp_path / "json").mkdir()
    for i in range(3):
        rows.iloc[i * 300:(i + 1) * 300].to_json(tmp_path / "json" / f"part-{i}.jsonl", orient="records", lines=True)
    assert read(tmp_path / "json")["user_id"].tolist() == rows["user_id"].tolist()
    rows.drop(columns="price").to_csv(folder / "day=2" / "part-1.csv", index=False)
    with pytest.raises(ctr.errors.DataError, match=r"day=2/part-1.csv has other columns than day=1/part-0.csv "
                                                   r"\(missing: 'price'\)"):
        read(folder)
    assert len(read(folder, ["user_id", "day"])) == 1800  # the columns asked for are in every file
    (tmp_path / "json" / "part-3.csv").touch()
    with pytest.raises(ctr.errors.DataError, match=r"holds 3 JSON lines files \(part-0.jsonl, part-1.jsonl, "
                                                   r"part-2.jsonl\); 1 CSV file \(part-3.csv\)"):
        read(tmp_path / "json")
    (tmp_path / "none").mkdir()
    (tmp_path / "none" / "part-0.csv").touch()
    with pytest.raises(ctr.errors.DataError, match="its files are all empty"):
        read(tmp_path / "none")
    # Several files or tables some other way say how to give them.
    files = sorted((tmp_path / "json").glob("part-[0-2].jsonl"))
    with pytest.raises(ctr.errors.DataError, match=r"got list \(several files: put them in one folder and pass"):
        read(files)
    with pytest.raises(ctr.errors.DataError, match=r"not as a pattern \(3 files match it\); put the files in one"):
        read(tmp_path / "json" / "part-*.jsonl")
    days = [tmp_path / f"day{day}.parquet" for day in (1, 2)]
    for day in days:
        rows.to_parquet(day)
    with pytest.raises(ctr.errors.DataError, match=r"got list \(several Parquet files: pass pyarrow.dataset.dataset\("
                                                   r"paths\), read as one table, or put them in one folder"):
        read(days)
    assert len(read(pads.dataset([str(day) for day in days]))) == 2 * len(rows)  # as said
    with pytest.raises(ctr.errors.DataError, match=r"got list \(several tables: pass pd.concat\(frames\)"):
        read([rows, rows])
    with pytest.raises(ctr.errors.DataError, match=r"got TextFileReader \(pass the file's path: ctr reads a CSV"):
        read(pd.read_csv(folder / "day=1" / "part-0.csv", chunksize=100))
    with pytest.raises(ctr.errors.DataError, match=r"DataFrames one at a time: pd.concat\(frames\), or write them "
                                                   r"as files of one folder and pass the folder\)$"):
        read(rows.iloc[i:i + 100] for i in range(0, 900, 100))


def test_nested_records_give_a_column_per_field_named_by_its_path(tmp_path):
    # Structs (Parquet, Arrow: as Spark and BigQuery export them) and JSON objects alike: 'user.geo.city'.
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [{"user": {"id": 2**60 + 1, "geo": {"city": "Köln"}}, "item_id": 3, "clicked": 1},
            {"user": None, "item_id": 4, "clicked": 0},
            {"user": {"id": 7, "geo": None}, "item_id": 5, "clicked": 1}]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "rows.parquet")
    (tmp_path / "rows.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    spec = ctr.FeatureSpec([ctr.Categorical("user_id", column="user.id", dtype="int", role="user"),
                            ctr.Categorical("city", column="user.geo.city"), ctr.Categorical("item_id", dtype="int")],
                           label=ctr.Label("clicked"))
    for source in (tmp_path / "rows.parquet", pa.Table.from_pylist(rows), tmp_path / "rows.jsonl"):
        assert read(source).columns.tolist() == ["user.id", "user.geo.city", "item_id", "clicked"]
        raw = raw_features(read(source, spec.columns), spec)
        assert raw["user_id"].tolist() == [2**60 + 1, ctr.MISSING_INT, 7]
        assert raw["city"].tolist() == ["Köln", "", ""]
    assert next(iter_chunks(tmp_path / "rows.parquet", ["user.geo.city"])).columns.tolist() == ["user.geo.city"]
    assert read(tmp_path / "rows.parquet").dtypes["user.id"] == "Int64"  # exact beside the missing row
    pq.write_table(pa.Table.from_pylist(rows).slice(0, 0), tmp_path / "none.parquet")
    assert read(tmp_path / "none.parquet", ["user.id"]).columns.tolist() == ["user.id"]
    draft = ctr.draft_spec(tmp_path / "rows.parquet")
    assert (draft.spec["user_id"].source, draft.spec["user_id"].role) == ("user.id", "user")
    # A DataFrame whose column holds the objects (as pandas.read_json leaves them; a request's) reads their
    # fields too.
    frame = pd.DataFrame(rows)
    assert frame.columns.tolist() == ["user", "item_id", "clicked"]
    for source in (frame, rows):
        raw = raw_features(read(source, spec.columns), spec)
        assert raw["user_id"].tolist() == [2**60 + 1, ctr.MISSING_INT, 7] and raw["city"].tolist() == ["Köln", "", ""]
    with pytest.raises(ctr.DataError, match=r"column 'user.name' is missing from the data; it has: 'user', "):
        read(frame, ["user.name", "item_id"])  # no object holds the field: missing, not a column of nulls


def _examples(path, rows, options=None):
    import tensorflow as tf

    def feature(value):
        values = value if isinstance(value, list) else [value]
        if isinstance(values[0], str | bytes):
            return tf.train.Feature(bytes_list=tf.train.BytesList(value=[v if isinstance(v, bytes) else v.encode()
                                                                         for v in values]))
        if isinstance(values[0], int):
            return tf.train.Feature(int64_list=tf.train.Int64List(value=values))
        return tf.train.Feature(float_list=tf.train.FloatList(value=values))

    with tf.io.TFRecordWriter(str(path), options=options) as writer:
        for row in rows:
            features = {key: feature(value) for key, value in row.items() if value is not None}
            writer.write(tf.train.Example(features=tf.train.Features(feature=features)).SerializeToString())


def test_tfrecords_of_examples_are_read_as_tfx_writes_them(tmp_path):
    # A key's one value a row is that value (a 64-bit id exact), several a list, none missing; files
    # gzipped (told by their bytes) in a folder, as TFX's ExampleGen writes them, or one plain file.
    rows = [{"user_id": 2**60 + 1, "genres": ["Drama", "War"], "price": 9.5, "city": "Köln", "clicked": 1},
            {"user_id": None, "genres": ["Drama"], "price": None, "city": "Bonn", "clicked": 0},
            {"user_id": 7, "genres": None, "price": 0.25, "city": None, "clicked": 1}]
    folder = tmp_path / "Split-train"
    folder.mkdir()
    _examples(folder / "data_tfrecord-00000-of-00002.gz", rows[:2], options="GZIP")
    _examples(folder / "data_tfrecord-00001-of-00002.gz", rows[2:], options="GZIP")
    (folder / "_SUCCESS").touch()
    _examples(tmp_path / "rows.tfrecord", rows)
    _examples(tmp_path / "rows.tfrecord.zlib", rows, options="ZLIB")
    for source in (folder, tmp_path / "rows.tfrecord", tmp_path / "rows.tfrecord.zlib"):
        table = read(source)
        assert table.columns.tolist() == ["city", "clicked", "genres", "price", "user_id"]
        assert table["user_id"].tolist()[::2] == [2**60 + 1, 7] and pd.isna(table["user_id"][1])
        assert table["genres"].tolist()[:2] == [["Drama", "War"], ["Drama"]] and not len(table["genres"][2] or [])
        assert table["price"].tolist()[::2] == [9.5, 0.25] and np.isnan(table["price"][1])
        assert table["city"].tolist()[:2] == ["Köln", "Bonn"] and pd.isna(table["city"][2])
        assert ctr.data.count_rows(source) == 3
        assert [len(c) for c in iter_chunks(source, ["genres"], chunk_rows=2)] == [2, 1]
    spec = ctr.FeatureSpec([ctr.Categorical("user_id", dtype="int", role="user"), ctr.MultiCategorical("genres"),
                            ctr.Numeric("price"), ctr.Categorical("city")], label=ctr.Label("clicked"))
    raw = raw_features(read(folder), spec)
    assert raw["user_id"].tolist() == [2**60 + 1, ctr.MISSING_INT, 7]
    assert raw["genres"].tolist()[::2] == ["Drama|War", ""]
    model = ctr.LogisticRegression(spec)
    model.fit(folder, epochs=1, verbose=0)
    np.testing.assert_allclose(model.predict(tmp_path / "rows.tfrecord"), model.predict(read(folder)), atol=1e-6)
    # A name that says another format is that format's.
    read(folder).to_parquet(tmp_path / "rows_tfrecord.parquet")
    assert read(tmp_path / "rows_tfrecord.parquet")["user_id"].tolist()[::2] == [2**60 + 1, 7]


def test_unreadable_tfrecords_are_named_with_what_is_wrong(tmp_path):
    from ctr.data import count_rows

    _examples(tmp_path / "whole.tfrecord", [{"x": i} for i in range(50)])
    whole = (tmp_path / "whole.tfrecord").read_bytes()
    (tmp_path / "cut.tfrecord").write_bytes(whole[: len(whole) // 2 + 15])  # into a record (each is 30 bytes)
    (tmp_path / "text.tfrecord").write_text("user_id,clicked\n1,0\n")
    _examples(tmp_path / "mixed.tfrecord", [{"x": 1}, {"x": "one"}])
    (tmp_path / "cut_header.tfrecord").write_bytes(whole[: len(whole) // 2 + 5])  # in a header: TF's reader stops
    for name, message in [("cut", "cut short or damaged: truncated record at"),
                          ("cut_header", "cut short or damaged: 5 bytes after its last whole record, at byte 750"),
                          ("text", "cut short or damaged: corrupted record at 0")]:
        for reader in (read, count_rows):
            with pytest.raises(ctr.DataError, match=rf"{name}.tfrecord: not readable as TFRecords of tf.train.Example "
                                                    rf"\({message}"):
                reader(tmp_path / f"{name}.tfrecord")
    with pytest.raises(ctr.DataError, match=r"feature 'x' holds bytes \(text\) in record 1 but integers in an "):
        read(tmp_path / "mixed.tfrecord")
    with pytest.raises(ctr.DataError, match=r"column 'y' is missing from .*whole.tfrecord \(the keys of its "
                                            r"records\); it has: 'x'"):
        read(tmp_path / "whole.tfrecord", ["x", "y"])
    # A key first given after the records its types are learnt from is still read when asked for, and
    # with every column when it comes within the first chunk.
    _examples(tmp_path / "late.tfrecord", [{"x": i} for i in range(3)] + [{"x": 3, "late": "yes"}])
    from ctr import _tfrecord
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_tfrecord, "SCHEMA_RECORDS", 2)
        assert next(ctr.data.iter_chunks(tmp_path / "late.tfrecord", chunk_rows=2)).columns.tolist() == ["x"]
        assert read(tmp_path / "late.tfrecord").columns.tolist() == ["late", "x"]
        late = read(tmp_path / "late.tfrecord", ["x", "late"])["late"]
        assert late.isna().tolist() == [True, True, True, False] and late[3] == "yes"


def test_csv_and_arrow_tables_read_like_dataframes(tmp_path, frame):
    import pyarrow as pa
    import pyarrow.parquet as pq

    frame.iloc[:100].to_csv(tmp_path / "rows.csv", index=False)
    assert read(tmp_path / "rows.csv", ["item_id", "rating"]).shape == (100, 2)
    assert read(pa.Table.from_pandas(frame.iloc[:50]), ["price"]).shape == (50, 1)
    # Genres replaced by Arrow lists in a table made from pandas, whose metadata still says text.
    table = pa.Table.from_pandas(frame.iloc[:50], preserve_index=False)
    lists = [g.split("|") if g else [] for g in frame["genres"].iloc[:50]]
    table = table.set_column(table.schema.get_field_index("genres"), "genres", pa.array(lists, pa.list_(pa.string())))
    pq.write_table(table, tmp_path / "lists.parquet")
    for source in (table, tmp_path / "lists.parquet"):
        assert [list(g) for g in read(source, ["genres"])["genres"]] == lists


class _ArrowStream:
    """What a polars DataFrame or a DuckDB relation hands over: the Arrow PyCapsule stream, nothing else."""

    def __init__(self, data: object) -> None:
        self.data = data

    def __arrow_c_stream__(self, requested_schema: object = None) -> object:
        return self.data.__arrow_c_stream__(requested_schema)


def test_any_arrow_stream_reads_as_its_table(trained, frame):
    import pyarrow as pa

    table = pa.Table.from_pandas(frame.iloc[:50], preserve_index=False)
    pd.testing.assert_frame_equal(read(_ArrowStream(table)), read(table))
    model = trained["lr"]
    np.testing.assert_array_equal(model.predict(_ArrowStream(table)), model.predict(frame.iloc[:50]))
    # polars hands over text as string views and lists as list views, which pandas has no conversion for.
    views = table
    for name in ("gender", "occupation", "zip_prefix", "title"):
        views = views.set_column(views.schema.get_field_index(name), name, table[name].cast(pa.string_view()))
    lists = [g.split("|") if g else [] for g in frame["genres"].iloc[:50]]
    for kind in (pa.large_list(pa.string_view()), pa.list_view(pa.string_view())):  # polars', and Arrow's view
        views = views.set_column(views.schema.get_field_index("genres"), "genres", pa.array(lists, kind))
        for source in (views, _ArrowStream(views), views.to_batches()[0]):
            np.testing.assert_array_equal(model.predict(source), model.predict(frame.iloc[:50]))
    with pytest.raises(ctr.DataError, match=r"^data is an Arrow stream \(_ArrowStream\) that is no table of named "
                                            r"columns \(a single column\? give it as a table\): "):
        model.predict(_ArrowStream(pa.chunked_array([[1, 2]])))
    with pytest.raises(ctr.DataError, match=r"got generator \(rows one at a time: pass list\(rows\); "):
        model.predict(row for row in frame.head(2).to_dict("records"))


def test_a_pyarrow_dataset_is_streamed_filtered_as_its_caller_made_it(trained, frame, tmp_path):
    """A pyarrow dataset (a Hive-partitioned folder, filtered: data on a store pyarrow opens) is read batch by
    batch with its filter, as a Parquet path is, in fit, evaluate and predict; a Scanner is read once; a
    ParquetFile, a handle, is named with what to pass instead."""
    import pyarrow.compute as pc
    import pyarrow.dataset as pads
    import pyarrow.parquet as pq

    rows = frame.iloc[:300].assign(day=[f"2024-01-0{1 + i % 3}" for i in range(300)])
    rows.to_parquet(tmp_path / "days", partition_cols=["day"])
    dataset = pads.dataset(tmp_path / "days", partitioning="hive")
    later = dataset.filter(pc.field("day") == "2024-01-03")
    kept = rows[rows["day"] == "2024-01-03"]
    assert ctr.data.count_rows(later) == len(kept) == 100
    chunks = list(ctr.data.iter_chunks(later, ["user_id", "day"], chunk_rows=40))
    assert [len(c) for c in chunks] == [40, 40, 20] and set(pd.concat(chunks)["day"]) == {"2024-01-03"}
    model = trained["lr"]
    expected = model.predict(kept.drop(columns="day"), verbose=0)
    np.testing.assert_allclose(model.predict(later, verbose=0), expected, atol=1e-6)
    np.testing.assert_allclose(model.predict(dataset.scanner(filter=pc.field("day") == "2024-01-03"), verbose=0),
                               expected, atol=1e-6)
    assert model.evaluate(later, verbose=0)["rows"] == 100
    fitted = ctr.LogisticRegression(model.spec, seed=0)
    fitted.fit(dataset.filter(pc.field("day") != "2024-01-03"), epochs=1, verbose=0)
    assert fitted.evaluate(later, verbose=0)["rows"] == 100
    with pytest.raises(ctr.DataError, match=r"^column 'nowhere' is missing from the pyarrow dataset; it has: "):
        read(later, ["nowhere"])
    with pytest.raises(ctr.DataError, match=r"got ParquetFile \(pass the file's path, or pyarrow.dataset.dataset"):
        model.predict(pq.ParquetFile(next((tmp_path / "days").rglob("*.parquet"))))


@pytest.mark.parametrize("name", ["rows.csv", "rows.tsv"])
def test_lists_written_to_a_csv_read_back_as_the_same_features(tmp_path, name):
    # Parquet's list columns and JSON's objects, as `ctr predict --out scored.csv` passes them on: pandas
    # wrote "['hip hop']", which read back as one unseen id, so scoring the file again gave other scores.
    spec = ctr.FeatureSpec([ctr.MultiCategorical("tags", separator=","), ctr.MultiCategorical("moods", weighted=True),
                            ctr.Vector("emb", dim=3), ctr.Categorical("user_id", dtype="int")])
    rows = pd.DataFrame({"tags": [np.array(["hip hop", "jazz"], dtype=object), [], None],
                         "moods": [{"calm": 0.7, "sad": 2.0}, None, {}],
                         "emb": [np.array([0.1, -0.25, 3.0], np.float32), None, [1e-8, 2.0, 1 / 3]],
                         "user_id": [1, 2, 3],
                         "other": [[1, 2], [0.5, 0.25], [("a", 2)]]})
    path = tmp_path / name
    ctr.data.write_frames([rows.iloc[:2], rows.iloc[2:]], path, spec)
    back = read(path, dtypes=ctr.data.csv_dtypes(spec))
    assert back["tags"].fillna("").tolist() == ["hip hop,jazz", "", ""]
    assert back["other"].tolist() == ["1|2", "[0.5, 0.25]", "a:2"]  # no feature reads it: '|', and a vector
    written = raw_features(back, spec)
    for column, values in raw_features(rows, spec).items():
        np.testing.assert_array_equal(written[column], values, err_msg=column)


@pytest.mark.parametrize("name", ["rows.csv.gz", "rows.tsv.bz2", "rows.json.xz", "rows.jsonl.gz"])
def test_compressed_text_files_read_and_write_as_plain_ones(tmp_path, spec, frame, name):
    rows = frame.head(300)
    plain = tmp_path / Path(name).stem
    compressed = tmp_path / name
    for path in (plain, compressed):  # in chunks, as `ctr predict --out` writes them
        ctr.data.write_frames(iter([rows.iloc[:100], rows.iloc[100:]]), path)
    assert compressed.stat().st_size < plain.stat().st_size
    text = ctr.data.csv_dtypes(spec)
    pd.testing.assert_frame_equal(read(compressed, dtypes=text), read(plain, dtypes=text))
    assert [len(c) for c in iter_chunks(compressed, ["item_id"], chunk_rows=128)] == [128, 128, 44]
    assert ctr.data.count_rows(compressed) == 300
    written = raw_features(read(compressed, dtypes=text), spec)
    for column, values in raw_features(rows, spec).items():
        np.testing.assert_array_equal(written[column], values)
    compressed.write_bytes(b"not compressed at all")
    with pytest.raises(ctr.DataError, match=rf"(?i){name}: not readable as .*\(.*(gzip|invalid|format)"):
        read(compressed)


@pytest.mark.parametrize("name", ["rows.csv.zip", "rows.tsv.zip", "rows.jsonl.zip"])
def test_a_zip_archive_of_one_text_file_reads_as_the_file(tmp_path, spec, frame, name):
    """As Kaggle ships data and macOS's Compress makes it: pandas refused the latter's archive, whose
    __MACOSX/ copy it counted as a second file."""
    import zipfile

    rows = frame.head(300)
    plain = tmp_path / Path(name).stem
    ctr.data.write_frames(iter([rows]), plain)
    archive = tmp_path / name
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(plain, f"data/{plain.name}")
        z.writestr(f"__MACOSX/data/._{plain.name}", b"\x00\x05\x16\x07 resource fork")
        z.writestr("data/.DS_Store", b"\x00\x00\x00\x01Bud1")
    text = ctr.data.csv_dtypes(spec)
    pd.testing.assert_frame_equal(read(archive, dtypes=text), read(plain, dtypes=text))
    assert [len(c) for c in iter_chunks(archive, ["item_id"], chunk_rows=128)] == [128, 128, 44]
    assert ctr.data.count_rows(archive) == 300 and ctr.draft_spec(archive, threshold=4).rows == 300
    with zipfile.ZipFile(archive, "a") as z:
        z.write(plain, "data/more.csv")
    with pytest.raises(ctr.DataError, match=rf"{name}: the \.zip archive holds 2 data files \(data/{plain.name}, "
                                            r"data/more\.csv\), where it is read when it holds one; unpack it"):
        read(archive)
    archive.write_bytes(b"user_id,item_id\n1,2\n")
    with pytest.raises(ctr.DataError, match=rf"{name}: not readable as .*\(File is not a zip file\)"):
        read(archive)
    with pytest.raises(ctr.ArgumentError, match=r"\.csv\.xz; a \.zip archive is read, not written\)"):
        ctr.data.write_frames(iter([rows]), tmp_path / "out.csv.zip")


def test_codes_in_a_csv_keep_their_leading_zeros_as_the_spec_reads_them_as_text(tmp_path, spec, frame, trained):
    # pandas guesses '044' to be the number 44: trained from a CSV, the model learned '44', which a
    # request's '044' never matched; scored from a CSV, the zip prefix counted as unseen.
    rows = frame.head(2000)
    zeros = rows.zip_prefix.str.match(r"0\d")
    assert zeros.sum() > 20
    rows.to_csv(tmp_path / "rows.csv", index=False)
    assert read(tmp_path / "rows.csv", dtypes=ctr.data.csv_dtypes(spec)).zip_prefix.equals(rows.zip_prefix)
    # Ids with gaps, written by pandas as floats (3.0), still read as the ids '3' (as a frame's 3.0 reads).
    gaps = pd.DataFrame({"occupation": [3, None, 12], "gender": ["M", "F", "M"]}).astype({"occupation": "Int64"})
    gaps.astype({"occupation": float}).to_csv(tmp_path / "gaps.csv", index=False)
    assert (tmp_path / "gaps.csv").read_text().splitlines()[1] == "3.0,M"
    coded = ctr.FeatureSpec([ctr.Categorical("occupation"), ctr.Categorical("gender")])
    for given in (read(tmp_path / "gaps.csv", dtypes={"occupation": "str"}), gaps.astype({"occupation": float})):
        np.testing.assert_array_equal(raw_features(given, coded)["occupation"], ["3", "", "12"])
    model = trained["lr"]
    np.testing.assert_allclose(model.predict(tmp_path / "rows.csv"), model.predict(rows), rtol=1e-6)
    assert model.evaluate(tmp_path / "rows.csv") == pytest.approx(model.evaluate(rows))
    served = ctr.load(model.export(tmp_path / "lr"))
    np.testing.assert_allclose(served.predict(tmp_path / "rows.csv"), model.predict(rows), rtol=1e-6)
    retrained = ctr.LogisticRegression(spec, learning_rate=0.01, batch_size=256)
    retrained.fit(tmp_path / "rows.csv", epochs=1, verbose=0)
    np.testing.assert_allclose(retrained.predict(rows), retrained.predict(tmp_path / "rows.csv"), rtol=1e-6)
    vocabulary = set(retrained.preprocessor_.state["tables"]["zip_prefix"]["vocabulary"])
    assert "044" in vocabulary and "44" not in vocabulary


def test_json_lines_and_arrays_read_as_the_frames_written_to_them(tmp_path, spec, frame):
    """JSON lines (what `ctr predict --out rows.json` writes) read back as the rows written, datetimes
    included; a JSON array of objects too; text that is not JSON is named."""
    from ctr.data import count_rows, write_frames

    rows = frame.head(300).copy()
    rows["timestamp"] = pd.to_datetime(rows["timestamp"], unit="s")  # written as ISO 8601 text, read back as such
    write_frames([rows.iloc[:200], rows.iloc[200:]], tmp_path / "rows.json")
    chunks = list(iter_chunks(tmp_path / "rows.json", ["user_id", "timestamp", "genres"], chunk_rows=128))
    assert [len(c) for c in chunks] == [128, 128, 44] and list(chunks[0].columns) == ["user_id", "timestamp", "genres"]
    expected = raw_features(frame.head(300), spec)
    for name, values in raw_features(read(tmp_path / "rows.json"), spec).items():
        np.testing.assert_array_equal(values, expected[name], err_msg=name)
    titles = ["Amélie", "千と千尋"]
    write_frames([pd.DataFrame({"title": titles})], tmp_path / "text.json")  # text as it is, not \u-escaped
    assert (tmp_path / "text.json").read_text(encoding="utf-8").split() == [f'{{"title":"{t}"}}' for t in titles]
    assert read(tmp_path / "text.json")["title"].tolist() == ["Amélie", "千と千尋"]
    (tmp_path / "array.jsonl").write_text(frame.head(30).to_json(orient="records"))
    pd.testing.assert_frame_equal(read(tmp_path / "array.jsonl"), frame.head(30), check_dtype=False)
    assert count_rows(tmp_path / "rows.json") == 300 and count_rows(tmp_path / "array.jsonl") == 30
    (tmp_path / "cut.json").write_text('{"user_id": 1}\n{"user_id": ')
    with pytest.raises(ctr.DataError, match=r"cut\.json: not readable as JSON lines \(one object a row\): line 2 is "
                                            r"no JSON \(Expecting value, at column 13\): '\{\"user_id\":'"):
        read(tmp_path / "cut.json")
    (tmp_path / "cut_array.json").write_text('[{"user_id": 1},\n {"user_id": ')
    with pytest.raises(ctr.DataError, match=r"cut_array\.json: not readable as a JSON array of objects \(line 2, "
                                            r"column 14: Expecting value\)"):
        read(tmp_path / "cut_array.json")
    (tmp_path / "numbers.json").write_text('{"user_id": 1}\n7\n')
    with pytest.raises(ctr.DataError, match=r"numbers\.json \(lines 1 to 2\): row 1 of the data is a int"):
        read(tmp_path / "numbers.json")
    (tmp_path / "empty.json").write_text("")
    with pytest.raises(ctr.DataError, match=r"empty\.json: the file is empty \(0 bytes\)"):
        read(tmp_path / "empty.json", ["user_id"])


def test_json_lines_are_read_by_arrow_as_row_by_row_and_row_by_row_where_it_differs(tmp_path, monkeypatch):
    """Arrow's JSON reader reads JSON lines (ten times as fast) as the row-by-row reader does: ISO dates
    stay text, a 64-bit id beside a null stays exact. From a block it would read otherwise (a type that
    changes, a key that comes late, an integer beyond int64, which it rounds to a float; a line that is
    no JSON) the rows are read row by row, in order, with the line named as before."""
    import json

    from ctr import data

    monkeypatch.setattr(data, "_JSON_BLOCK", 256)  # bytes a block: a few rows each
    rows = [{"id": 2**60 + i, "price": i / 4, "genres": ["Drama", "War"][: i % 3], "day": f"2024-01-{i + 1:02d}",
             "user": {"city": "Köln" if i % 2 else None}} for i in range(24)]
    rows[3]["id"] = None
    later = {"late key": [{**rows[i], "zip": "044"} if i == 20 else rows[i] for i in range(24)],
             "type change": [{**rows[i], "price": "cheap"} if i == 20 else rows[i] for i in range(24)],
             "uint64 id": [{**rows[i], "id": 2**64 - 1} if i == 20 else rows[i] for i in range(24)],
             "uint64 id first": [{**rows[i], "id": 2**64 - 1} if i == 0 else rows[i] for i in range(24)]}
    row_by_row = data._arrow_json_lines

    def plain(value):  # a list as Arrow (arrays) or JSON (lists) gives it, a missing value as either does
        return list(value) if isinstance(value, list | np.ndarray) else None if pd.isna(value) else value

    for name, written in {"plain": rows, **later}.items():
        path = tmp_path / f"{name}.jsonl"
        path.write_text("\n".join(json.dumps(row) for row in written) + "\n")
        chunks = list(iter_chunks(path, chunk_rows=10))
        assert [len(c) for c in chunks] == [10, 10, 4], name
        # Which reader read each chunk: Arrow's gives a list as an array, JSON's as a list.
        by_arrow = [isinstance(c["genres"].iloc[1], np.ndarray) for c in chunks]
        assert by_arrow == [name != "uint64 id first"] * 2 + [name == "plain"], name
        monkeypatch.setattr(data, "_arrow_json_lines", lambda path, chunk_rows, whole: (yield from ()) or 0)
        slow = list(iter_chunks(path, chunk_rows=10))
        monkeypatch.setattr(data, "_arrow_json_lines", row_by_row)
        if name == "type change":  # mixed types are no feature's values, read either way
            with pytest.raises(ctr.DataError, match=r"feature 'price' .*expected numbers, found 'cheap'"):
                raw_features(chunks[2], ctr.FeatureSpec([ctr.Numeric("price")]))
            continue
        for fast, rows_read in zip(chunks, slow, strict=True):
            assert fast.columns.tolist() == rows_read.columns.tolist(), name
            for column in fast.columns:
                assert list(map(plain, fast[column])) == list(map(plain, rows_read[column])), (name, column)
        assert chunks[2]["id"].iloc[0] == written[20]["id"] and chunks[0]["day"][0] == "2024-01-01", name
        assert chunks[0]["id"][4] == 2**60 + 4 and pd.isna(chunks[0]["id"][3]), name
        assert chunks[0]["id"][0] == written[0]["id"], name  # 2⁶⁴ - 1, which Arrow's reader makes 1.8e19
    (tmp_path / "cut.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows) + '{"id": 1')
    with pytest.raises(ctr.DataError, match=r"cut\.jsonl: not readable as JSON lines \(one object a row\): line 25 is "
                                            r"no JSON"):
        read(tmp_path / "cut.jsonl")


def test_a_tf_data_dataset_of_feature_mappings_reads_as_its_frame(spec, frame, trained):
    """What TensorFlow users hold (TensorFlow Datasets, tf.io.parse_example): a tf.data.Dataset of
    column → tensor, one row an element or batched, a list as a ragged, sparse or varying-length
    tensor, reads as the DataFrame it came from; (features, label) pairs are told how to become one."""
    from ctr._keras import tf

    rows = frame.head(100).reset_index(drop=True)
    genres = [g.split("|") if g else [] for g in rows["genres"]]
    columns = {c: rows[c].to_numpy() for c in rows.columns if c != "genres"}
    ragged = tf.data.Dataset.from_tensor_slices({**columns, "genres": tf.ragged.constant(genres)})

    def varying():  # as TensorFlow Datasets yields a list feature: a dense tensor of its own length
        for i in range(len(rows)):
            yield {"user_id": rows["user_id"][i], "genres": np.array(genres[i], dtype=object)}

    generated = tf.data.Dataset.from_generator(varying, output_signature={
        "user_id": tf.TensorSpec([], tf.int64), "genres": tf.TensorSpec([None], tf.string)})
    examples = [tf.train.Example(features=tf.train.Features(feature={
        "user_id": tf.train.Feature(int64_list=tf.train.Int64List(value=[user])),
        "genres": tf.train.Feature(bytes_list=tf.train.BytesList(value=[g.encode() for g in listed]))}))
        .SerializeToString() for user, listed in zip(rows["user_id"], genres, strict=True)]
    parsed = tf.data.Dataset.from_tensor_slices(examples).batch(16).map(lambda s: tf.io.parse_example(
        s, {"user_id": tf.io.FixedLenFeature([], tf.int64), "genres": tf.io.VarLenFeature(tf.string)}))
    for name, dataset in {"ragged rows": ragged, "batched": ragged.batch(7), "varying rows": generated,
                          "parsed examples": parsed}.items():
        table = read(dataset)
        assert table["user_id"].tolist() == rows["user_id"].tolist(), name
        assert [list(g) for g in table["genres"]] == genres, name
    model = trained["lr"]
    np.testing.assert_allclose(model.predict(ragged.batch(7)), model.predict(rows), rtol=1e-6)
    with pytest.raises(ctr.DataError, match=r"yields \(features, label\) pairs, .* dataset\.map\(lambda x, y: "):
        read(ragged.map(lambda x: (x, x["rating"])))
    with pytest.raises(ctr.DataError, match="must yield a mapping of column name → tensor; its elements are Tensor"):
        read(tf.data.Dataset.range(3))
    with pytest.raises(ctr.DataError, match=r"column 'box' of the tf.data.Dataset: expected one value or one list "
                                            r"per row, got a tensor of shape \(2, 2, 2\)"):
        read(tf.data.Dataset.from_tensors({"box": tf.zeros([2, 2, 2])}))


def test_parquet_files_with_different_schemas_are_reported(tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    pd.DataFrame({"a": [1, 2]}).to_parquet(folder / "1.parquet")
    pd.DataFrame({"a": ["x", "y"]}).to_parquet(folder / "2.parquet")
    with pytest.raises(ctr.DataError, match="do not share one schema"):
        list(iter_chunks(folder, ["a"]))


def test_unreadable_and_empty_parquet_sources_are_named(tmp_path):
    from ctr.data import count_rows

    (tmp_path / "empty").mkdir()
    (tmp_path / "broken.parquet").write_bytes(b"not parquet")
    for source, message in [(tmp_path / "empty", "a folder with no Parquet files in it"),
                            (tmp_path / "broken.parquet", "not a readable Parquet file")]:
        for reader in (read, count_rows):
            with pytest.raises(ctr.DataError, match=message):
                reader(source)


def test_a_damaged_parquet_file_in_a_folder_is_named_when_its_turn_comes(tmp_path, frame):
    from ctr.data import count_rows

    folder = tmp_path / "parts"
    folder.mkdir()
    frame.iloc[:500].to_parquet(folder / "a.parquet")
    frame.iloc[500:1000].to_parquet(folder / "b.parquet")
    whole = (folder / "b.parquet").read_bytes()
    for damaged in (whole[: len(whole) // 2] + whole[-8:], b"not parquet at all"):  # its metadata cut; garbage
        (folder / "b.parquet").write_bytes(damaged)
        for reader in (count_rows, lambda source: list(iter_chunks(source, ["user_id"]))):
            with pytest.raises(ctr.DataError, match=r"parts: a Parquet file cannot be read \(.*b\.parquet"):
                reader(folder)


def test_unreadable_csv_files_are_named(tmp_path):
    from ctr.data import count_rows

    latin = "user_id,city\n1,M\xfcnchen\n".encode("latin-1")
    for name, content, message in [
            # Another encoding is named, with the line as it reads there and how to convert it.
            ("latin.csv", latin, ": line 2 reads as Windows-1252 or Latin-1: '1,München'; save the file as UTF-8 "
                                 "(iconv -f cp1252 -t utf-8 latin.csv > utf8-latin.csv) or read it with pandas "
                                 "(encoding='cp1252') and pass the table"),
            ("latin.csv.gz", gzip.compress(latin), ": line 2 reads as Windows-1252 or Latin-1: '1,München'; save the "
                                                   "file as UTF-8 or read it with pandas"),
            ("wide.csv", "user_id,city\n1,Köln\n".encode("utf-16"), ": it is UTF-16, as a spreadsheet's 'Unicode "
                                                                     "text' is: save it as UTF-8"),
            ("ragged.tsv", b"a\tb\n1\t2\n3\t4\t5\n", r" \(.*Expected 2 fields in line 3")]:
        (tmp_path / name).write_bytes(content)
        separator = "a tab" if name.endswith(".tsv") else "a comma"
        with pytest.raises(ctr.DataError, match=f"{name}: not readable as UTF-8 text separated by {separator}"
                                                + (message if name == "ragged.tsv" else re.escape(message))) as err:
            read(tmp_path / name)
        assert str(err.value).startswith(str(tmp_path)), str(err.value)
    (tmp_path / "latin.json").write_bytes('{"user_id": 1, "city": "Orl\xe9ans"}\n'.encode("latin-1"))
    json_said = "latin.json: not readable as JSON lines (one object a row) or a JSON array of objects: line 1 reads"
    with pytest.raises(ctr.DataError, match=re.escape(f"{json_said} as Windows-1252 or Latin-1")):
        read(tmp_path / "latin.json")
    # An empty file is said to be empty, whatever its format, where each reader called it unreadable or columnless.
    for name in ("empty.csv", "empty.json", "empty.parquet"):
        (tmp_path / name).write_bytes(b"")
        for reader in (read, count_rows):
            with pytest.raises(ctr.DataError, match=f"{name}: the file is empty \\(0 bytes\\)"):
                reader(tmp_path / name)
    (tmp_path / "blank.csv").write_bytes(b"\n \n")
    with pytest.raises(ctr.DataError, match=r"blank.csv: holds no text \(or only blank lines\), so no line naming"):
        read(tmp_path / "blank.csv")
    # A file separated otherwise: which separator, and how to give it (Excel's CSV where a comma is the decimal mark).
    (tmp_path / "semicolons.csv").write_text("user_id;item_id;price\n1;2;11,69\n", encoding="utf-8")
    with pytest.raises(ctr.DataError, match=r"semicolons.csv \(its header is one column, 'user_id;item_id;price', that "
                                            r"reads as 3 columns separated by semicolons, where .*: convert it, e\.g\. "
                                            r"pandas\.read_csv\('.*semicolons\.csv', sep=';', decimal=','\)\.to_parquet"
                                            r"\('.*semicolons\.parquet'\), and give that\)"):
        read(tmp_path / "semicolons.csv", ["user_id"])
    (tmp_path / "tabs.csv").write_text("user_id\titem_id\n1\t2\n", encoding="utf-8")
    (tmp_path / "commas.tsv").write_text("user_id,item_id\n1,2\n", encoding="utf-8")
    for name, separated, suffix in (("tabs.csv", "tabs", ".tsv"), ("commas.tsv", "commas", ".csv")):
        with pytest.raises(ctr.DataError, match=rf"separated by {separated}: .*, so give it a \{suffix} name"):
            read(tmp_path / name, ["user_id"])


def test_missing_column_is_named(spec, frame, trained):
    with pytest.raises(ctr.DataError, match=r"column 'price' is missing from the data; it has: 'user_id'"):
        raw_features(frame.drop(columns=["price"]), spec)
    # A column that set_index or a groupby made the index is named as such.
    with pytest.raises(ctr.DataError, match=r"'user_id' and 'item_id' are the frame's index: pass frame.reset_index"):
        trained["lr"].predict(frame.head(3).set_index(["user_id", "item_id"]))
    with pytest.raises(ctr.DataError, match=r"'user_id' is the frame's index: pass frame.reset_index\(\)\)$"):
        raw_features(frame.set_index("user_id"), spec)
    flat = frame.head(3).copy()
    flat.columns = pd.MultiIndex.from_tuples([(c, "") for c in frame.columns])
    with pytest.raises(ctr.DataError, match=r"its column names are tuples, a MultiIndex: give each column a single"):
        raw_features(flat, spec)
    with pytest.raises(ctr.DataError, match="no data at"):
        read("no/such/file.parquet")
    # A column there that a missing one seems to be, spelled another way or mistyped, is named beside it.
    camel = frame.head(3).rename(columns={"user_id": "userId", "item_id": "Item ID", "price": "prize"})
    with pytest.raises(ctr.DataError, match=r"columns 'user_id', 'item_id', 'price' are missing from the data; it has: "
                                            r".*\(did you mean 'userId' for 'user_id', 'Item ID' for 'item_id', "
                                            r"'prize' for 'price'\?\)$"):
        raw_features(camel, spec)
    with pytest.raises(ctr.DataError, match=r"column 'price' is missing from the data; it has: .*'prize'.* \(did you "
                                            r"mean 'prize'\?\)$"):
        trained["lr"].predict(frame.head(3).rename(columns={"price": "prize"}))


def test_extra_columns_are_ignored(spec, frame):
    raw = raw_features(frame.assign(unrelated=1), spec)
    assert set(raw) == set(spec.names)


@pytest.mark.parametrize("column, values, message", [
    ("price", ["cheap"] * 3, r"feature 'price' \(numeric, column 'price'\): expected numbers, found 'cheap'"),
    ("user_id", ["u1", "u2", "u3"], r"feature 'user_id' .*dtype 'int' expects integer ids"),
    ("user_id", [1.5, 2.0, 3.0], r"dtype 'int' expects whole numbers, found 1.5"),
    ("timestamp", ["monday"] * 3, r"feature 'timestamp' .*expected seconds since the epoch, datetimes or ISO 8601"),
    ("timestamp", ["2024-01-01", "monday", 5], r"feature 'timestamp' .*ISO 8601 text, but the column holds object "
                                               r"values such as 'monday'$"),
    ("timestamp", ["2024-01-01T10:00:00Z", 1704103200, None], r"feature 'timestamp' \(timestamp, column 'timestamp'\): "
                                                              r"the column mixes numbers and text \(e\.g\. '2024-01-01"
                                                              r"T10:00:00Z'\); give every time one way: seconds since"),
    ("genres", [[("a", 0.5)]] * 3, r"row 0 holds a list within its list \(\('a', 0\.5\)\); ids with weights, "
                                   r"\(id, weight\) pairs, need the feature's `weighted: true`"),
    ("genres", [{"a": 1}] * 3,
     r"feature 'genres' .*expected one string or list per row, found a mapping .*`weighted: true`"),
])
def test_wrong_dtypes_are_named(spec, frame, column, values, message):
    bad = frame.iloc[:3].copy()
    bad[column] = pd.Series(values, dtype=object, index=bad.index)
    with pytest.raises(ctr.DataError, match=message):
        raw_features(bad, spec)


@pytest.mark.parametrize("column, values, message", [
    ("price", pd.to_datetime(["2024-01-01"] * 3), r"feature 'price' \(numeric, column 'price'\): expected real "
                                                  r"numbers, but the column holds datetimes \(datetime64\[.*declare "
                                                  r"the feature kind: timestamp"),
    ("price", pd.period_range("2024-01", periods=3, freq="M"), r"'price' .*holds datetimes \(period\[M\]\)"),
    ("price", pd.to_timedelta([1, 2, 3], unit="s"), r"'price' .*holds durations .*such as Timedelta\('0 days "
                                                    r"00:00:01'\); make them numbers in a unit first"),
    ("price", np.array([1 + 2j, 1, 2]), r"'price' .*expected real numbers, but the column holds complex numbers "
                                        r"\(complex128\) such as \(1\+2j\)$"),
    ("user_id", pd.to_datetime(["2024-01-01"] * 3), r"'user_id' .*expected integer ids \(dtype 'int'\), but the "
                                                    r"column holds datetimes"),
    ("user_id", np.array([1 + 0j, 2, 3]), r"'user_id' .*holds complex numbers"),
    ("timestamp", pd.to_timedelta([1, 2, 3], unit="s"), r"'timestamp' .*ISO 8601 text, but the column holds durations "
                                                        r".*a duration is no point in time"),
    ("timestamp", np.array([1.7e9 + 1j] * 3), r"'timestamp' .*holds complex numbers"),
])
def test_times_durations_and_complex_numbers_are_not_read_as_numbers(spec, frame, column, values, message):
    # pandas turns datetimes and durations into nanosecond counts, and drops an imaginary part, silently.
    bad = frame.iloc[:3].copy()
    bad[column] = values
    with pytest.raises(ctr.DataError, match=message):
        raw_features(bad, spec)


def test_a_period_is_read_as_its_start(spec, frame):
    rows = frame.iloc[:3].copy()
    rows["timestamp"] = pd.period_range("2024-03", periods=3, freq="D")
    starts = rows.assign(timestamp=pd.date_range("2024-03-01", periods=3, freq="D"))
    assert raw_features(rows, spec)["timestamp"].tolist() == raw_features(starts, spec)["timestamp"].tolist()


def test_missing_values_get_canonical_markers(spec, frame):
    rows = frame.iloc[:3].copy()
    rows["gender"] = pd.Series([None, "", "F"], dtype=object, index=rows.index)
    rows["user_id"] = pd.Series([1, None, 3], dtype="Int64", index=rows.index)
    rows["timestamp"] = pd.to_datetime(pd.Series([0, None, 86400 * 365], index=rows.index), unit="s")
    rows["genres"] = pd.Series([["Action", "Drama"], [], None], dtype=object, index=rows.index)
    raw = raw_features(rows, spec)
    assert raw["gender"].tolist() == ["", "", "F"]
    assert raw["user_id"].tolist() == [1, ctr.MISSING_INT, 3]
    assert raw["timestamp"].tolist() == [0, ctr.MISSING_INT, 86400 * 365]
    assert raw["genres"].tolist() == ["Action|Drama", "", ""]
    # A request whose every value is null (JSON's null: objects, with no type to read) is missing throughout.
    nulls = raw_features(pd.DataFrame({f.source: [None] for f in spec.features}), spec)
    assert nulls["timestamp"].tolist() == nulls["user_id"].tolist() == [ctr.MISSING_INT]
    assert nulls["gender"].tolist() == nulls["genres"].tolist() == [""] and np.isnan(nulls["price"]).all()
    # JSON's numbers among nulls, an integer beyond float64 (±inf, as 1e400 is) and a bool column (1.0).
    numbers = pd.DataFrame({"price": pd.Series([2, None, 0.5, 10**400, -(10**400)], dtype=object),
                            "release_year": pd.Series([True, None, False, True, True], dtype=object)})
    raw = raw_features(numbers, ctr.FeatureSpec([spec["price"], spec["release_year"]]))
    np.testing.assert_array_equal(raw["price"], np.array([2, np.nan, 0.5, np.inf, -np.inf], np.float32))
    np.testing.assert_array_equal(raw["release_year"], np.array([1, np.nan, 0, 1, 1], np.float32))


def test_64_bit_ids_with_gaps_stay_exact_from_every_source(tmp_path, monkeypatch):
    import pyarrow as pa
    import pyarrow.parquet as pq

    # Snowflake-style ids beyond 2**53: through float64 (pandas' and Arrow's default for integers with
    # gaps) 2**60 + 1 would become 2**60, another id.
    ids = [2**60 + 1, None, 2**62 + 3, -(2**61) - 1]
    exact = [2**60 + 1, ctr.MISSING_INT, 2**62 + 3, -(2**61) - 1]
    spec = ctr.FeatureSpec([ctr.Categorical("user_id", dtype="int"), ctr.Categorical("gender")])
    rows = pd.DataFrame({"user_id": pd.array(ids, dtype="Int64"), "gender": ["M", "F", None, "F"]})
    # Parquet as Spark or Arrow write it, with no pandas metadata to say the column was Int64.
    pq.write_table(pa.table({"user_id": pa.array(ids, pa.int64()), "gender": rows.gender}), tmp_path / "rows.parquet")
    rows.to_csv(tmp_path / "rows.csv", index=False)
    (tmp_path / "rows.jsonl").write_text("".join(f'{{"user_id": {"null" if i is None else i}, "gender": "M"}}\n'
                                                 for i in ids))
    sources = {"JSON lines": tmp_path / "rows.jsonl", "Int64": rows, "objects": rows.astype({"user_id": object}),
               "text": rows.assign(user_id=[None if i is None else str(i) for i in ids]),
               "Parquet": read(tmp_path / "rows.parquet"), "an Arrow table": pq.read_table(tmp_path / "rows.parquet"),
               "CSV": read(tmp_path / "rows.csv", dtypes=ctr.data.csv_dtypes(spec)),
               "a request": {"user_id": ids, "gender": ["M", "F", "", "F"]}}
    for name, source in sources.items():
        assert raw_features(read(source), spec)["user_id"].tolist() == exact, name
    # Beyond int64 is named, not wrapped round to another id.
    for beyond in (pd.Series([2**64 - 1], dtype="uint64"), pd.Series([2**70], dtype=object), pd.Series([1e19])):
        with pytest.raises(ctr.DataError, match=r"feature 'user_id' .*ids must fit in a signed 64-bit integer"):
            raw_features(pd.DataFrame({"user_id": beyond, "gender": "M"}), spec)
    # A CSV's id column read as integers that holds text, or an id beyond int64, says which column and value.
    for value in ("u7", str(2**70)):
        (tmp_path / "ids.csv").write_text(f"user_id,gender\n5,M\n,F\n{value},M\n")
        with pytest.raises(ctr.DataError, match=rf"ids.csv: column 'user_id' holds '{value}', but the spec reads it "
                                                 r"as integer ids \(dtype: int\), which must be whole numbers that fit "
                                                 r"in a signed 64-bit integer; declare dtype: string"):
            read(tmp_path / "ids.csv", dtypes=ctr.data.csv_dtypes(spec))
    # uint64 ids from 2⁶³ on that come after the first chunk: the chunks (int64, then uint64) join exactly, where
    # pandas made the column float64 and every id another, read whole as in one chunk.
    unsigned = [2**62 + 1, 2**62 + 2, 2**64 - 1]
    (tmp_path / "unsigned.csv").write_text("user_id,gender\n" + "".join(f"{i},M\n" for i in unsigned))
    (tmp_path / "unsigned.jsonl").write_text("".join(f'{{"user_id": {i}}}\n' for i in unsigned))
    whole = ctr.data.iter_chunks
    for path in (tmp_path / "unsigned.csv", tmp_path / "unsigned.jsonl"):
        assert [c["user_id"].dtype.kind for c in whole(path, chunk_rows=2)] == ["i", "u"]
        monkeypatch.setattr(ctr.data, "iter_chunks", lambda *args, **kwargs: whole(*args, **kwargs, chunk_rows=2))
        assert read(path)["user_id"].tolist() == unsigned
        monkeypatch.setattr(ctr.data, "iter_chunks", whole)


def test_a_history_of_integer_ids_is_checked_and_spelled_as_the_item_table_spells_them():
    spec = ctr.FeatureSpec([ctr.Categorical("item_id", dtype="int", role="item"), ctr.History("history")])
    rows = pd.DataFrame({"item_id": [1, 2, 3, 4, 5],
                         "history": pd.Series([[1.0, 2.0], " 03| 2.0 ||7", "12|85|301", None, ""], dtype=object)})
    expected = ["1|2", "3|2||7", "12|85|301", "", ""]
    for n in (1, 100):  # a request, and a table (which Arrow checks)
        raw = raw_features(pd.concat([rows] * n, ignore_index=True), spec)
        assert raw["history"].tolist() == expected * n
        # Another separator, or text where ids belong, would be served as a user who touched nothing.
        for bad, said in [("12,85,301", "(are its ids separated by ','? join them with '|', or give a list)"),
                          ("12 85", "separated by ' '?"), ("12|x", "")]:
            wrong = rows.assign(history=rows.history.where(rows.index != 3, bad))
            with pytest.raises(ctr.DataError, match=re.escape(
                    f"feature 'history' (history, column 'history'): lists the integer ids of 'item_id' separated "
                    f"by '|', but a row holds {bad!r}") + ".*" + re.escape(said)):
                raw_features(pd.concat([wrong] * n, ignore_index=True), spec)
    # String item ids are the catalogue's own spelling: not checked.
    named = ctr.FeatureSpec([ctr.Categorical("item_id", role="item"), ctr.History("history")])
    assert raw_features(rows.assign(history="a b|c"), named)["history"].tolist() == ["a b|c"] * 5
    # Whole floats among objects (JSON's mixed columns) read as the integers they were, as a float column's do.
    codes = ctr.FeatureSpec([ctr.Categorical("code"), ctr.MultiCategorical("codes")])
    mixed = pd.DataFrame({"code": pd.Series([3.0, "x", 2.5], dtype=object),
                          "codes": pd.Series([[1.0, "a"], [np.float32(2)], []], dtype=object)})
    assert {k: v.tolist() for k, v in raw_features(mixed, codes).items()} == {"code": ["3", "x", "2.5"],
                                                                             "codes": ["1|a", "2", ""]}


def test_numbers_grouped_by_thousands_are_read_and_a_decimal_comma_is_named():
    """'1,234' as a web page writes it (Amazon's review votes) is 1234, in training and in a request; '1,5'
    is no such number, and the error says how to read a decimal comma."""
    spec = ctr.FeatureSpec([ctr.Numeric("vote")])
    rows = pd.DataFrame({"vote": ["1,234", "-12,345.5", "7", None, " 2,000,000 "]})
    np.testing.assert_array_equal(raw_features(rows, spec)["vote"], [1234, -12345.5, 7, np.nan, 2e6])
    for wrong in ("1,5", "12,34", "1,2345"):
        with pytest.raises(ctr.DataError, match=rf"feature 'vote' \(numeric, column 'vote'\): expected numbers, "
                                                rf"found '{wrong}' \(1 such rows\): numbers with a decimal comma are "
                                                r"read once converted \(pandas.read_csv\(\.\.\., decimal=','\)"):
            raw_features(pd.DataFrame({"vote": ["7", wrong]}), spec)
    with pytest.raises(ctr.DataError, match=r"expected numbers, found 'many' \(1 such rows\)$"):
        raw_features(pd.DataFrame({"vote": ["many"]}), spec)


def test_marks_of_a_missing_number_are_missing_and_other_text_is_refused():
    """'?' (as UCI's files mark a missing value), '-', 'N/A', ' null ' in a numeric column are missing, as a
    gap is, in training and in a request; other text is still refused."""
    spec = ctr.FeatureSpec([ctr.Numeric("age")])
    marked = raw_features(pd.DataFrame({"age": ["31", "?", "-", " N/A ", "null", "unknown", None, "$5"]}), spec)["age"]
    np.testing.assert_array_equal(marked, [31] + [np.nan] * 6 + [5])
    with pytest.raises(ctr.DataError, match=r"expected numbers, found 'old' \(1 such rows\)$"):
        raw_features(pd.DataFrame({"age": ["31", "?", "old"]}), spec)


def test_amounts_and_percentages_are_numbers_in_one_unit():
    """'$1,299.99' and '12.50 €' (a shop's prices) are their amounts and '15%' is 0.15, as a spreadsheet
    reads them, in training and in a request; a column in two units is refused, naming a value in each."""
    spec = ctr.FeatureSpec([ctr.Numeric("price"), ctr.Numeric("discount")])
    rows = pd.DataFrame({"price": ["$1,299.99", "-$5", "$ 3", "7", None, "+$.5"],
                         "discount": ["15%", "-2.5 %", "0.2", "100%", "", "0%"]})
    features = raw_features(rows, spec)
    np.testing.assert_allclose(features["price"], [1299.99, -5, 3, 7, np.nan, 0.5], rtol=1e-7)
    np.testing.assert_allclose(features["discount"], [0.15, -0.025, 0.2, 1, np.nan, 0], rtol=1e-7)
    assert raw_features(pd.DataFrame({"price": ["12.50 €"], "discount": [None]}), spec)["price"].tolist() == [12.5]
    for mixed, shown in ((["$5", "€5"], "'$5' and '€5'"), (["3", "$5", "15%"], "'$5' and '15%'")):
        with pytest.raises(ctr.DataError, match=rf"feature 'price' \(numeric, column 'price'\): expected numbers in "
                                                rf"one unit, found {re.escape(shown)}: convert them to one first"):
            raw_features(pd.DataFrame({"price": mixed, "discount": None}), spec)
    for wrong in ("$5%", "€5$", "--5", "$"):
        with pytest.raises(ctr.DataError, match=rf"expected numbers, found {re.escape(repr(wrong))} \(1 such rows\)"):
            raw_features(pd.DataFrame({"price": ["1", wrong], "discount": None}), spec)


def test_numbers_beyond_float32_become_infinite_quietly(spec, frame):
    import warnings

    rows = frame.iloc[:3].copy()
    rows["price"] = [1e300, -1e300, 2.0]
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # numpy's "overflow encountered in cast"
        price = raw_features(rows, spec)["price"]
    assert price.tolist() == [np.inf, -np.inf, 2.0]  # served as missing, as infinities are


def test_timestamps_in_every_common_form_give_the_same_seconds(spec, frame):
    seconds = [0, 881250949, 1617228086]
    naive = pd.to_datetime(pd.Series(seconds), unit="s")
    forms = {
        "int": pd.Series(seconds),
        "float": pd.Series(seconds, dtype=float),
        "text seconds": pd.Series([str(s) for s in seconds], dtype=object),
        "naive datetimes (read as UTC)": naive,
        "aware datetimes": naive.dt.tz_localize("UTC").dt.tz_convert("America/New_York"),
        "ISO text": naive.astype(str).astype(object),
        "ISO text with offsets": naive.dt.tz_localize("UTC").dt.tz_convert("Asia/Kolkata").map(
            lambda t: t.isoformat()).astype(object),
        "datetime objects": pd.Series(list(naive.dt.to_pydatetime()), dtype=object),
        # As BigQuery writes a TIMESTAMP as text (and many logs do): the zone named after the time.
        "text ending in UTC": (naive.astype(str) + " UTC").astype(object),
        "text ending in GMT, Arrow strings": (naive.dt.strftime("%Y-%m-%dT%H:%M:%S.%f") + "GMT").astype("str"),
    }
    for form, column in forms.items():
        rows = frame.iloc[:3].copy()
        rows["timestamp"] = column.to_numpy()
        assert raw_features(rows, spec)["timestamp"].tolist() == seconds, form
    bigquery = frame.iloc[:3].assign(timestamp=forms["text ending in UTC"].to_numpy())
    drafted = ctr.draft_spec(bigquery.assign(clicked=[0, 1, 0]), label="clicked")
    assert drafted.spec["timestamp"].kind == "timestamp", drafted.reasons["timestamp"]
    with pytest.raises(ctr.DataError, match=r"feature 'timestamp' .*'1970-01-01 00:00:00 CET'"):
        raw_features(bigquery.assign(timestamp=["1970-01-01 00:00:00 CET"] * 3), spec)  # a zone by name: no


def test_a_request_may_be_columns_or_one_row_of_single_values(frame):
    from ctr.data import read

    row = frame.iloc[0]
    one = read({c: row[c] for c in ("user_id", "gender", "price")})
    assert one.shape == (1, 3) and one["gender"].iloc[0] == row["gender"]
    listed = read({"user_id": 1, "genres": ["Action", "Comedy"]})  # one row's list stays that row's
    assert listed.shape == (1, 2) and listed["genres"].iloc[0] == ["Action", "Comedy"]
    zero_d = read({"user_id": np.array(7), "gender": np.array("F")})  # NumPy's 0-d arrays are single values too
    assert zero_d["user_id"].tolist() == [7] and zero_d["gender"].tolist() == ["F"]
    with pytest.raises(ctr.DataError, match="it has: no columns at all"):
        read({}, ["user_id"])
    with pytest.raises(ctr.DataError, match="the columns have different lengths"):
        read({"user_id": [1, 2], "gender": ["F"]})
    with pytest.raises(ctr.DataError, match=r"column 'price': expected one value per row .* shape \(2, 2\)"):
        read({"user_id": [1, 2], "price": np.array([[1.0, 2.0], [3.0, 4.0]])})
    # A list per row (a multi-valued feature's), of any lengths or of one, as a DataFrame's list column.
    genres = ctr.FeatureSpec([ctr.MultiCategorical("genres")])
    for rows, joined in (([["Action", "Comedy"], ["Drama"], "Drama|War"], ["Action|Comedy", "Drama", "Drama|War"]),
                         ([["Action", "Comedy"], ["Drama", "War"]], ["Action|Comedy", "Drama|War"])):
        lists = read({"user_id": list(range(len(rows))), "genres": rows})
        assert lists["genres"].tolist() == rows
        assert raw_features(lists, genres)["genres"].tolist() == joined
    with pytest.raises(ctr.DataError, match=r"feature 'price' \(numeric, column 'price'\): expected numbers, found \["):
        raw_features(read({"price": [[1.0, 2.0], [3.0, 4.0]]}), ctr.FeatureSpec([ctr.Numeric("price")]))


def test_a_multi_valued_row_may_be_a_set_or_bytes_and_reads_as_its_list():
    """A set's values in sorted order (its own changes with each process's string hashing, so max_length
    would keep other values); bytes as their UTF-8 text, in a list as alone. A history needs an order."""
    spec = ctr.FeatureSpec([ctr.MultiCategorical("genres", max_length=2), ctr.Categorical("gender"),
                            ctr.Categorical("item_id", role="item"), ctr.History("seen", role="user")])
    rows = pd.DataFrame({"genres": [{"War", "Action", "Drama"}, frozenset(["Drama"]), [b"Film-Noir", "Drama"]],
                         "gender": [b"F", "M", None], "item_id": ["1", "2", "3"], "seen": ["1|2", [b"2", "3"], None]})
    features = raw_features(rows, spec)
    assert features["genres"].tolist() == ["Action|Drama|War", "Drama", "Film-Noir|Drama"]
    assert features["gender"].tolist() == ["F", "M", ""] and features["seen"].tolist() == ["1|2", "2|3", ""]
    assert raw_features(read({"genres": {"War", "Action"}, "gender": "F", "item_id": "1", "seen": "1"}),
                        spec)["genres"].tolist() == ["Action|War"]  # one row of a request
    with pytest.raises(ctr.DataError, match=r"feature 'seen' \(history, column 'seen'\): lists its items most "
                                            r"recent first, but a row holds a set, which has no order .*give a list"):
        raw_features(rows.assign(seen=[{"1", "2"}, "", ""]), spec)
    with pytest.raises(ctr.DataError, match=r"feature 'gender' .*expected one string per row, found a set"):
        raw_features(rows.assign(gender=[{"F"}, "", ""]), spec)
    drafted = ctr.draft_spec(rows.assign(genres=[{"War", "Action"}, {"Drama"}, {"War"}] * 1, clicked=[0, 1, 0]))
    assert drafted.spec["genres"].kind == "multi_categorical"  # it read a set column as lists, not unhashable


def test_binary_ids_are_read_as_their_bytes_from_every_source(tmp_path):
    """Bytes that are no UTF-8 (binary ids) stay bytes, whatever holds them: a TFRecord's bytes_list, a
    tf.data string tensor, a request, a list; UTF-8 bytes are text, as before. What shows them to a person
    (draft-spec, a skew report, an embedding map) escapes them, and what gives ids back as text (a
    recommender's catalogue, a history) asks for them as text (the catalogue of bad input)."""
    import tensorflow as tf

    digests = [bytes([0xFF, i, 0x80]) for i in range(4)]
    rows = [{"user": digests[i % 4], "tags": [digests[(i + 1) % 4], b"ok"], "city": "Köln".encode(),
             "clicked": i % 2} for i in range(40)]
    _examples(tmp_path / "rows.tfrecord", rows)
    spec = ctr.FeatureSpec([ctr.Categorical("user"), ctr.MultiCategorical("tags"), ctr.Categorical("city")],
                           label=ctr.Label("clicked"))
    frame = pd.DataFrame(rows)
    dataset = tf.data.Dataset.from_tensor_slices({"user": frame["user"].to_numpy(object), "city": frame["city"],
                                                  "tags": tf.ragged.constant(frame["tags"].tolist()),
                                                  "clicked": frame["clicked"]})
    for source in (tmp_path / "rows.tfrecord", dataset, frame, frame.to_dict("records")):
        raw = raw_features(read(source), spec)
        assert raw["user"].tolist()[:4] == digests and raw["city"][0] == "Köln"
        assert raw["tags"][0] == digests[1] + b"|ok"
    model = ctr.LogisticRegression(spec, learning_rate=0.1)
    model.fit(tmp_path / "rows.tfrecord", epochs=3, verbose=0)
    assert len(model.preprocessor_.state["tables"]["user"]["vocabulary"]) == 4
    np.testing.assert_allclose(model.predict(dataset), model.predict(frame), atol=1e-6)
    drafted = ctr.draft_spec(frame)
    assert drafted.spec["user"].kind == "categorical" and "4 distinct" in drafted.reasons["user"]
    unseen = frame.assign(user=[bytes([0xFE, i]) for i in range(40)])
    skew = ctr.inspect.feature_skew(unseen, model)
    assert any(line.startswith("'user': 100.0% of its values are outside the model's vocabulary (e.g. b'\\xfe")
               for line in skew)


def test_a_request_may_be_a_list_of_rows_each_leaving_out_what_it_lacks(spec, frame, trained):
    """A JSON array of objects: each row a mapping of column → value; a column a row leaves out is a
    missing value in that row, scored as a DataFrame with that value missing is."""
    from ctr.data import read

    rows = frame.head(3).drop(columns="rating")
    records = rows.to_dict("records")
    del records[1]["genres"], records[2]["age"]
    records[0]["genres"] = ["Drama", "War"]  # a multi-valued feature's list, as in a DataFrame's list column
    table = read(records)
    assert list(table.columns) == list(rows.columns) and table["genres"].iloc[0] == ["Drama", "War"]
    expected = rows.astype({"genres": object, "age": float})
    expected.loc[expected.index[1], "genres"], expected.loc[expected.index[2], "age"] = None, np.nan
    expected.at[expected.index[0], "genres"] = "Drama|War"
    model = trained["lr"]
    np.testing.assert_allclose(model.predict(records), model.predict(expected), rtol=1e-6)
    assert model.predict(records[0]).shape == (1,)  # one row alone is a mapping, as before
    with pytest.raises(ctr.DataError, match=r"row 1 of the data is a str; in a list of rows, each is a mapping"):
        read([records[0], "F"])
    with pytest.raises(ctr.DataError, match="the data is an empty list: no rows"):
        read([])
    with pytest.raises(ctr.DataError, match=r"got ndarray \(name its columns: pd\.DataFrame\(array, columns="):
        read(np.zeros((2, 3)))
    with pytest.raises(ctr.DataError, match=r"got recarray \(its fields are columns: pass pd\.DataFrame\(array\)\)$"):
        read(pd.DataFrame({"user_id": [1, 2]}).to_records(index=False))  # its columns have names already


def test_labels_binary_and_threshold(spec):
    threshold = ctr.FeatureSpec([ctr.Categorical("a")], label=ctr.Label("rating", threshold=4))
    assert labels(pd.DataFrame({"rating": [1, 4, 5, 3]}), threshold).tolist() == [0, 1, 1, 0]
    binary = ctr.FeatureSpec([ctr.Categorical("a")], label=ctr.Label("click"))
    assert labels(pd.DataFrame({"click": [True, False]}), binary).tolist() == [1, 0]
    with pytest.raises(ctr.DataError, match=r"binary label must be 0 or 1, found 2, 5; .*threshold"):
        labels(pd.DataFrame({"click": [0, 1, 2, 5]}), binary)
    with pytest.raises(ctr.DataError, match=r"found -1; for -1/\+1 labels \(as LIBSVM files give them\) set "
                                             r"label.threshold: 1, which reads 1 as a click"):
        labels(pd.DataFrame({"click": [-1, 1, 1]}), binary)
    signs = ctr.FeatureSpec([ctr.Categorical("a")], label=ctr.Label("click", threshold=1))
    assert labels(pd.DataFrame({"click": [-1, 1, 1]}), signs).tolist() == [0, 1, 1]
    with pytest.raises(ctr.DataError, match="label column 'click': 1 of the rows have no label"):
        labels(pd.DataFrame({"click": [0, None]}), binary)
    with pytest.raises(ctr.DataError, match=r"label column 'rating': expected numbers \(0 or 1, or ratings with "
                                            r"label\.threshold\), found 'good' \(1 such rows\); if a value marks a "
                                            r"click, name it .*label: \{column: rating, positive: good\} \(the "
                                            r"words read: 'good' \(1\)\)"):
        labels(pd.DataFrame({"rating": [4, "good"]}), threshold)


def test_labels_from_the_values_that_make_a_click():
    """label.positive: the rows holding one of its values are clicks, the rest non-clicks; values compare
    as what they mean (case, spaces, '1' and 1, yes and true), and a near miss of a value is named."""
    def spec(**label):
        return ctr.FeatureSpec([ctr.Categorical("a")], label=ctr.Label("y", **label))
    events = pd.DataFrame({"y": ["view", "Purchase", "addtocart ", "view", "transaction"]})
    assert labels(events, spec(positive="purchase")).tolist() == [0, 1, 0, 0, 0]
    assert labels(events, spec(positive=["addtocart", "purchase"])).tolist() == [0, 1, 1, 0, 0]
    skipped = pd.DataFrame({"y": [True, False, True]})
    assert labels(skipped, spec(positive=False)).tolist() == [0, 1, 0]
    # YAML reads an unquoted yes as true, which is the word 'yes' still; numbers match as numbers.
    yes = ctr.FeatureSpec.from_yaml("features: [{name: a}]\nlabel: {column: y, positive: yes}")
    assert labels(pd.DataFrame({"y": ["Yes", "no", "YES"]}), yes).tolist() == [1, 0, 1]
    assert labels(pd.DataFrame({"y": ["5", 4, 5.0, np.int64(3)]}), spec(positive=5)).tolist() == [1, 0, 1, 0]
    assert labels(pd.DataFrame({"y": [b"buy", b"view"]}), spec(positive="buy")).tolist() == [1, 0]
    # A value absent from these rows may be rare (a chunk of a log); one near a value held is a typo.
    assert labels(events, spec(positive="refund")).tolist() == [0] * 5
    with pytest.raises(ctr.DataError, match=r"label\.positive: 'purchse' is not a value of the label column 'y' "
                                            r"\(did you mean 'purchase'\?\)"):
        labels(events, spec(positive="purchse"))
    with pytest.raises(ctr.DataError, match=r"label column 'y': 2 of the rows have no label \(NaN or empty\)"):
        labels(pd.DataFrame({"y": ["view", None, " "]}), spec(positive="view"))
    with pytest.raises(ctr.DataError, match=r"label column 'y': y = purchase on none of the 5 training rows, so "
                                            r".*\(check the data, or the spec's label\.positive\)"):
        require_both_classes(class_counts(labels(events.assign(y="view"), spec(positive="purchase"))),
                             spec(positive="purchase"), "training")
    for bad, says in [({"positive": []}, "label.positive: an empty list; name the value"),
                      ({"positive": "buy", "threshold": 1}, "label.positive: with threshold, the rows' clicks are "
                                                            "already defined; drop one of them"),
                      ({"positive": "buy", "out_of": "n"}, "label.positive: with out_of"),
                      ({"positive": {"buy": 1}}, "label.positive: expected")]:
        with pytest.raises(ctr.SpecError, match=re.escape(says)):
            ctr.FeatureSpec.from_dict({"features": [{"name": "a"}], "label": {"column": "y", **bad}})
    assert ctr.FeatureSpec.from_yaml(spec(positive=["a", "b"]).to_yaml()).label.positive == ("a", "b")
    assert "1 if y = buy or sell, else 0" in describe_spec(spec(positive=["buy", "sell"]))


def test_lists_printed_as_text_are_read_as_lists():
    """A multi-valued feature's or a history's cell that is a list printed as text (JSON, Python, NumPy,
    NumPy 2's scalars) is read as the list; text that only looks bracketed is read as it is."""
    spec = ctr.FeatureSpec([ctr.MultiCategorical("tags"), ctr.MultiCategorical("moods", weighted=True),
                            ctr.Categorical("item_id", role="item"), ctr.History("seen", items="item_id")])
    frame = pd.DataFrame({
        "tags": ['["rock", "hip hop"]', "['rock', 'hip hop']", "['rock' 'hip hop']", "[np.str_('rock')]", "[Live]",
                 "a|b", None, "[]", ["p", "q"]],
        "moods": ["['calm:0.5', 'dark']"] + ["calm:2"] * 8,
        "item_id": ["1"] * 9,
        "seen": ["[12, 85]", "[12 85]", "[np.int64(12), np.int64(85)]", "12|85", "[1.0]", "", "[]", "[3]", [4, 5]]})
    raw = raw_features(frame, spec)
    assert raw["tags"].tolist() == ["rock|hip hop"] * 3 + ["rock", "[Live]", "a|b", "", "", "p|q"]
    assert raw["moods"][0] == "calm:0.5|dark"
    assert raw["seen"].tolist() == ["12|85"] * 4 + ["1", "", "", "3", "4|5"]
    # A Categorical reads its text as it is.
    assert raw["item_id"].tolist() == ["1"] * 9


def test_a_weighted_bags_mappings_printed_as_text_are_read_as_the_mappings():
    """`to_csv` of a column of dicts writes `{'calm': 0.5, 'sad': 2}`: a weighted bag reads it (and JSON's
    `{"happy": 1}`) as the mapping, where it was one unreadable id; an unweighted bag names `weighted: true`."""
    spec = ctr.FeatureSpec([ctr.MultiCategorical("moods", weighted=True)])
    printed = pd.DataFrame({"moods": ["{'calm': 0.5, 'sad': 2}", '{"happy": 1}', "{}", "{calm}", None]})
    given = pd.DataFrame({"moods": [{"calm": 0.5, "sad": 2}, {"happy": 1}, {}, "{calm}", None]})
    assert raw_features(printed, spec)["moods"].tolist() == raw_features(given, spec)["moods"].tolist()
    assert raw_features(printed, spec)["moods"].tolist()[:3] == ["calm:0.5|sad:2.0", "happy:1.0", ""]
    with pytest.raises(ctr.DataError, match=r"found a mapping \(\{'calm': 0.5, 'sad': 2\}\); ids with weights need "
                                            r"the feature's `weighted: true`"):
        raw_features(printed, ctr.FeatureSpec([ctr.MultiCategorical("moods")]))


def test_lists_of_objects_are_read_by_the_features_key():
    """TMDB's genres, `[{"id": 28, "name": "Action"}]`: as JSON-lines objects, JSON text or Python's repr,
    each object gives its `key` field; without a key, or an object without it, the error says which."""
    genres = [[{"id": 28, "name": "Action"}, {"id": 12, "name": "Adventure"}], [{"id": 18, "name": "Drama"}]]
    frame = pd.DataFrame({"genres": [*genres, json.dumps(genres[0]), repr(genres[1]), "Comedy|War", None, "[]"],
                          "seen": [[{"id": 12, "title": "a"}, {"id": 85, "title": "b"}], "[{'id': 3}]", "[7, 8]",
                                   "", None, "4", "[]"],
                          "item_id": ["1"] * 7})
    spec = ctr.FeatureSpec([ctr.MultiCategorical("genres", key="name"), ctr.Categorical("item_id", role="item"),
                            ctr.History("seen", items="item_id", key="id")])
    raw = raw_features(frame, spec)
    assert raw["genres"].tolist() == ["Action|Adventure", "Drama", "Action|Adventure", "Drama", "Comedy|War", "",
                                      ""]
    assert raw["seen"].tolist() == ["12|85", "3", "7|8", "", "", "4", ""]
    with pytest.raises(ctr.DataError, match=r"feature 'genres' \(multi_categorical, column 'genres'\): row 0 holds a "
                                            r"list of objects \(\{'id': 28, 'name': 'Action'\}\); name the field "
                                            r"that holds each object's id with the feature's key \(e\.g\. key: name; "
                                            r"its fields: id, name\)"):
        raw_features(frame, ctr.FeatureSpec([ctr.MultiCategorical("genres")]))
    with pytest.raises(ctr.DataError, match=r"row 0 holds an object without the field 'nam' \(the feature's key\): "
                                            r".*; its fields: id, name \(did you mean 'name'\?\)"):
        raw_features(frame, ctr.FeatureSpec([ctr.MultiCategorical("genres", key="nam")]))
    for bad, says in [({"key": " "}, "features[0].key: must name the field of each object that holds its id"),
                      ({"key": "name", "weighted": True}, "features[0].key: reads one id from each object, and "
                                                           "weighted reads ids with weights")]:
        with pytest.raises(ctr.SpecError, match=re.escape(says)):
            ctr.FeatureSpec.from_dict({"features": [{"name": "genres", "kind": "multi_categorical", **bad}]})


def test_random_split_is_a_seeded_partition(frame):
    a = random_split(frame, (0.8, 0.1, 0.1), seed=3)
    b = random_split(frame, (0.8, 0.1, 0.1), seed=3)
    assert [len(p) for p in a] == [9600, 1200, 1200]
    assert all(x.equals(y) for x, y in zip(a, b, strict=True))
    keys = pd.concat(a)[["user_id", "item_id", "timestamp"]]
    assert len(keys.drop_duplicates()) == len(frame[["user_id", "item_id", "timestamp"]].drop_duplicates())
    with pytest.raises(ctr.ArgumentError, match=r"random_split: fractions must be .* sum to 1.*\(sum 0\.7\)"):
        random_split(frame, (0.5, 0.2))
    with pytest.raises(ctr.ArgumentError, match=r"got '0\.8,0\.2'"):
        random_split(frame, "0.8,0.2")
    with pytest.raises(ctr.ArgumentError, match="cold_user_split: profile_size must be an integer of at least 1"):
        ctr.data.cold_user_split(frame, 0.2, 0)
    few = frame[frame["user_id"].isin(frame["user_id"].unique()[:3])]
    with pytest.raises(ctr.DataError, match=r"cold_user_split: holding out 3 of the 3 users \('user_id'\) leaves no"):
        ctr.data.cold_user_split(few, 0.9, 5)
    with pytest.raises(ctr.DataError, match="none of the 60 held-out users has more than 1000 rows"):
        ctr.data.cold_user_split(frame, 0.2, 1000)
    with pytest.raises(ctr.DataError, match="cold_user_split: the data has no rows"):  # was numpy's "a cannot be empty"
        ctr.data.cold_user_split(frame.head(0))
    with pytest.raises(ctr.ArgumentError, match="add_history: max_length must be an integer of at least 1"):
        ctr.data.add_history(frame, max_length=0)


def test_temporal_split_keeps_each_users_latest_rows_for_test(frame):
    train, valid, test = temporal_split(frame, (0.8, 0.1, 0.1))
    assert len(train) + len(valid) + len(test) == len(frame)
    latest_train = train.groupby("user_id")["timestamp"].max()
    earliest_test = test.groupby("user_id")["timestamp"].min()
    common = latest_train.index.intersection(earliest_test.index)
    assert len(common) > 100
    assert (latest_train[common] <= earliest_test[common]).all()


PER_USER_ORDERS = {
    "leave_one_out": lambda d: ctr.leave_one_out(d),
    "temporal_split": lambda d: temporal_split(d, (0.5, 0.5)),
    "cold_user_split": lambda d: ctr.data.cold_user_split(d, 0.5, 1),
    "add_history": lambda d: (ctr.data.add_history(d),),
    "add_history's profiles": lambda d: (ctr.data.add_history(d.iloc[:1], profiles=d),),
}


@pytest.mark.parametrize("name", PER_USER_ORDERS)
def test_per_user_orders_read_times_as_times(name):
    # Item 11 is the latest moment (04:00 UTC) though the earliest as text; text sorts wrongly across offsets.
    when = ["2024-01-10T00:00:00+05:00", "2024-01-09T23:00:00-05:00", "2024-01-09T22:00:00+00:00"]
    seconds = [int(pd.Timestamp(t).timestamp()) for t in when]
    table = pd.DataFrame({"user_id": [1, 1, 1, 2, 2, 2], "item_id": [10, 11, 12, 20, 21, 22],
                          "timestamp": when * 2})
    split = PER_USER_ORDERS[name]
    by_numbers = split(table.assign(timestamp=seconds * 2))
    for given in (table, table.assign(timestamp=pd.to_datetime(table.timestamp, utc=True))):
        parts = split(given)
        assert [list(p.item_id) for p in parts] == [list(p.item_id) for p in by_numbers]
        if name.startswith("add_history"):  # the order in time is 10, 12, 11
            assert parts[0].history.tolist()[:3] == (["11|12|10"] if "profiles" in name else ["", "12|10", "10"])
        else:  # the last part ends with a user's latest row
            assert parts[-1].item_id.iloc[-1] in (11, 21)
    owner = name.split("'")[0]
    # Text in another format is refused (1/2/2024 is January or February by locale); so is a row with no time.
    with pytest.raises(ctr.DataError, match=rf"{owner}: column 'timestamp'.*expected seconds since the epoch, "
                                            r"datetimes or ISO 8601 text.*'1/2/2024'; dates in other formats "
                                            r"must be parsed first, knowing their format: write them as ISO 8601 "
                                            r"\(2024-01-02T10:30:00\) or epoch numbers, or in Python use "
                                            r"pd.to_datetime\(column, format='%m/%d/%Y'\)"):
        split(table.assign(timestamp=["1/2/2024", "12/30/2023", "1/10/2024"] * 2))
    gap = table.assign(timestamp=[3.0, np.nan, 1.0, 4.0, np.nan, 6.0])  # rows 1 and 4: a gap for each user
    with pytest.raises(ctr.DataError, match=rf"{owner}: column 'timestamp'.* has no time in [12] of its rows \(the "
                                            rf"first is row [14]\); drop them or give them a time, since {owner} "
                                            "orders"):
        split(gap)
    with pytest.raises(ctr.DataError, match=rf"{owner}: column 'user_id'.* has no user in 1 of its rows \(the first "
                                            r"is row [14]\); drop them or give them a user"):
        split(table.assign(user_id=[1, np.nan, 1, 2, 2, 2]) if name != "cold_user_split" else
              table.assign(user_id=[1, 1, 1, 2, np.nan, 2]))


def test_time_split_trains_on_the_past_and_tests_on_the_future(frame):
    parts = ctr.data.time_split(frame, (0.8, 0.1, 0.1))
    assert [len(p) for p in parts] == [9600, 1200, 1200]
    assert parts[0].timestamp.max() < parts[1].timestamp.min() and parts[1].timestamp.max() < parts[2].timestamp.min()
    # Each part keeps the data's row order, and together they are the data.
    assert all(p.index.equals(pd.RangeIndex(len(p))) for p in parts)
    joined = pd.concat(parts).sort_values("timestamp", kind="stable")
    assert joined.reset_index(drop=True).equals(frame.sort_values("timestamp", kind="stable").reset_index(drop=True))
    in_order = frame.reset_index().merge(parts[2], on=list(frame.columns))["index"]
    assert in_order.is_monotonic_increasing
    # Coarse times (days): a day is never cut in two; the cut moves to the day's end.
    days = frame.assign(timestamp=frame.timestamp // 86400 * 86400)
    train, valid, test = ctr.data.time_split(days, (0.8, 0.1, 0.1))
    assert train.timestamp.max() < valid.timestamp.min() and valid.timestamp.max() < test.timestamp.min()
    assert len(train) >= 9600 and len(train) + len(valid) + len(test) == len(frame)
    # Datetimes and ISO text give the same parts as epoch seconds.
    as_text = frame.assign(timestamp=pd.to_datetime(frame.timestamp, unit="s").dt.strftime("%Y-%m-%dT%H:%M:%S"))
    assert [len(p) for p in ctr.data.time_split(as_text, (0.5, 0.5))] == [6000, 6000]
    assert ctr.data.time_split(as_text, (0.5, 0.5))[1].user_id.equals(ctr.data.time_split(frame, (0.5, 0.5))[1].user_id)


def test_time_split_names_what_it_cannot_order(frame):
    with pytest.raises(ctr.DataError, match=r"column 'ts' is missing from the data of time_split.*time=\.\.\."):
        ctr.data.time_split(frame, time="ts")
    gaps = frame.assign(timestamp=frame.timestamp.astype(float))
    gaps.loc[[7, 9], "timestamp"] = np.nan
    with pytest.raises(ctr.DataError,
                       match=r"time_split: column 'timestamp' has no time in 2 of its rows \(the first is row 7\)"):
        ctr.data.time_split(gaps)
    with pytest.raises(ctr.DataError, match=r"time_split: column 'genres': expected seconds since the epoch"):
        ctr.data.time_split(frame, time="genres")
    with pytest.raises(ctr.ArgumentError, match="time_split: fractions must be"):
        ctr.data.time_split(frame, (0.9, 0.2))
    with pytest.raises(ctr.ArgumentError, match=r"got \(80, 10, 10\) \(sum 100; as shares, \(0\.8, 0\.1, 0\.1\)\)$"):
        ctr.data.time_split(frame, (80, 10, 10))  # percentages
    # Too few moments to cut between: a part would be empty (where too few rows are only rounded).
    months = frame.assign(timestamp=np.where(frame.index < 11_000, 0, 2_600_000))
    with pytest.raises(ctr.DataError, match=r"time_split: part 2 of \(0\.8, 0\.1, 0\.1\) would hold no rows \(the "
                                            r"parts would be 11,000, 0, 1,000 rows\): column 'timestamp' holds 2 "
                                            r"distinct times, and rows of one time stay in one part"):
        ctr.data.time_split(months)
    assert [len(p) for p in ctr.data.time_split(frame.head(2), (0.8, 0.1, 0.1))] == [2, 0, 0]
    # The column where the fractions go, as `sort_values("timestamp")` would take it.
    with pytest.raises(ctr.ArgumentError, match=r"time_split: the second argument is the fractions.* time='ts'$"):
        ctr.data.time_split(frame, "ts")
    with pytest.raises(ctr.ArgumentError, match=r"temporal_split: .*: time='user_id' or user='user_id'$"):
        ctr.data.temporal_split(frame, "user_id")


def _write_ml100k(folder):
    folder.mkdir()
    (folder / "u.data").write_text("1\t1\t5\t881250949\n2\t2\t3\t891717742\n1\t2\t4\t878887116\n")
    (folder / "u.user").write_text("1|24|M|technician|85711\n2|53|F|other|94043\n")
    genres = ["unknown", "Action", "Comedy"]
    (folder / "u.genre").write_text("".join(f"{g}|{i}\n" for i, g in enumerate(genres)) + "\n")
    (folder / "u.item").write_bytes(
        "1|Café Society (1995)|01-Jan-1995||http://x|0|1|1\n2|Mystery (1996)|||http://y|1|0|0\n".encode("latin-1"))


def test_add_negatives_follows_each_interaction_with_items_its_user_never_touched(spec, frame):
    rows = frame.head(3000)
    out = ctr.data.add_negatives(rows, spec, 3, seed=4)
    assert len(out) == 4 * len(rows) and list(out.columns) == [*rows.columns, "clicked"]
    first = out.iloc[::4].reset_index(drop=True)  # each interaction, then its 3 negatives
    pd.testing.assert_frame_equal(first.drop(columns="clicked"), rows.reset_index(drop=True),
                                  check_dtype=False)  # rating: float, to be empty (NaN) in the negatives
    assert (first.clicked.to_numpy() == labels(rows, spec)).all() and out.clicked.dtype == np.int64
    negative = out.drop(index=out.index[::4]).reset_index(drop=True)
    interaction = rows.loc[rows.index.repeat(3)].reset_index(drop=True)
    assert (negative.clicked == 0).all() and negative.rating.isna().all()  # not a feature: left empty
    touched = rows.groupby("user_id").item_id.agg(set)
    assert not any(i in touched[u] for u, i in zip(negative.user_id, negative.item_id, strict=True))
    for column in ("user_id", "age", "gender", "timestamp"):  # the interaction's user and context
        assert (negative[column].to_numpy() == interaction[column].to_numpy()).all(), column
    items = rows.drop_duplicates("item_id").set_index("item_id")
    for column in ("genres", "price", "title"):  # the drawn item's own content (some prices are NaN)
        pd.testing.assert_series_equal(negative[column], items.loc[negative.item_id, column].reset_index(drop=True))
    pd.testing.assert_frame_equal(out, ctr.data.add_negatives(rows, spec, 3, seed=4))  # seeded
    assert not out.equals(ctr.data.add_negatives(rows, spec, 3, seed=5))
    catalogue = pd.DataFrame({"item_id": [900_001], "genres": ["Noir"], "release_year": [1950.0],
                              "title": ["New"], "price": [1.0]})
    wider = ctr.data.add_negatives(rows, spec, 10, items=catalogue, seed=0)
    assert 900_001 in set(wider.item_id)  # items nobody touched are drawn from the catalogue too
    counts = rows.item_id.value_counts()

    def follows_popularity(distribution):
        out = ctr.data.add_negatives(rows, spec, 10, distribution=distribution, seed=0)
        drawn = out.drop(index=out.index[::11]).item_id.value_counts()
        return np.corrcoef(drawn, counts.reindex(drawn.index))[0, 1]

    assert follows_popularity("popularity") > follows_popularity("uniform") + 0.4  # users' own items left out
    # A click model trains on it with a spec whose label is the new column.
    clicks = ctr.FeatureSpec(spec.features, label=ctr.Label("clicked"))
    ctr.LogisticRegression(clicks).fit(out, epochs=1, verbose=0)


def test_add_negatives_says_what_it_cannot_do(spec, frame):
    rows = frame.head(200)
    with pytest.raises(ctr.DataError, match="the data has no rows"):
        ctr.data.add_negatives(rows.head(0), spec)
    with pytest.raises(ctr.DataError, match="already has a column 'rating'; pass label= another name"):
        ctr.data.add_negatives(rows, spec, label="rating")
    with pytest.raises(ctr.DataError, match="'genres'"):
        ctr.data.add_negatives(rows.drop(columns="genres"), spec)
    every = pd.DataFrame({"user_id": [1, 1, 2], "item_id": [10, 11, 10]})
    ids = ctr.FeatureSpec([ctr.Categorical("user_id", dtype="int", role="user"),
                           ctr.Categorical("item_id", dtype="int", role="item")])
    with pytest.raises(ctr.DataError, match="user 1 touched every item of the catalogue"):
        ctr.data.add_negatives(every, ids)
    with pytest.raises(ctr.ArgumentError, match="n_negatives must be an integer of at least 1"):
        ctr.data.add_negatives(rows, spec, 0)


def test_movielens_100k_loader_on_a_tiny_copy(tmp_path):
    folder = tmp_path / "ml"
    _write_ml100k(folder)
    table = ctr.datasets.movielens_100k(folder)
    assert len(table) == 3
    first = table.iloc[0]
    assert (first.title, first.genres, first.release_year, first.age, first.zip_prefix) == (
        "Café Society", "Action|Comedy", 1995.0, 24, "857")
    assert table.iloc[1].genres == "" and np.isnan(table.iloc[1].release_year)
    with pytest.raises(ctr.DataError, match=r"MovieLens 100K files missing: u\.item"):
        (folder / "u.item").unlink()
        ctr.datasets.movielens_100k(folder)


def test_a_damaged_movielens_100k_copy_is_named_by_file_and_line(tmp_path):
    folder = tmp_path / "ml"
    _write_ml100k(folder)
    with open(folder / "u.data", "a") as handle:
        handle.write("3\t1\n")  # a line cut short
    with pytest.raises(ctr.DataError, match=r"u\.data: not as GroupLens writes it; line 4 is '3\\t1', where 4 "
                                            r"fields split on '\\t' are expected$"):
        ctr.datasets.movielens_100k(folder)
    _write_ml100k(folder := tmp_path / "twice")
    with open(folder / "u.user", "a") as handle:
        handle.write("1|30|F|writer|10001\n")
    with pytest.raises(ctr.DataError, match=r"the users file lists user_id 1 more than once"):
        ctr.datasets.movielens_100k(folder)


def _write_ml1m(folder):
    folder.mkdir()
    (folder / "ratings.dat").write_text("1::10::5::978300760\n2::20::3::978302109\n1::20::4::978301968\n")
    (folder / "users.dat").write_text("1::F::1::10::48067\n2::M::56::16::70072\n")
    (folder / "movies.dat").write_bytes("10::Café (1995)::Comedy|Drama\n20::Heat (1995)::Action\n".encode("latin-1"))


def test_movielens_1m_loader_on_a_tiny_copy_and_its_damage_named(tmp_path):
    folder = tmp_path / "ml1m"
    _write_ml1m(folder)
    table = ctr.datasets.movielens_1m(folder)
    first = table.iloc[0]
    assert len(table) == 3 and (first.title, first.genres, first.release_year, first.occupation, first.age) == (
        "Café", "Comedy|Drama", 1995.0, "K-12 student", 1)
    (folder / "users.dat").write_text("1::F::1::25::48067\n2::M::56::16::70072\n")
    with pytest.raises(ctr.DataError, match=r"users\.dat: occupation code 25 is not one of MovieLens 1M's 0–20 "
                                            r"\(user 1\)"):
        ctr.datasets.movielens_1m(folder)
    _write_ml1m(folder := tmp_path / "movies")
    (folder / "movies.dat").write_text("10::Café (1995)::Comedy\nHeat (1995)::Action\n")
    with pytest.raises(ctr.DataError, match=r"movies\.dat: not as GroupLens writes it \(id::title::genres\); the "
                                            r"first line that is not: 'Heat \(1995\)::Action'"):
        ctr.datasets.movielens_1m(folder)
    _write_ml1m(folder := tmp_path / "ratings")
    (folder / "ratings.dat").write_text("1::10::5::978300760\n2::20::three::978302109\n")
    with pytest.raises(ctr.DataError, match=r"ratings\.dat: not as GroupLens writes it; line 2 is "
                                            r"'2::20::three::978302109'"):
        ctr.datasets.movielens_1m(folder)


@needs(ML100K)
def test_movielens_100k_real_folder():
    table = ctr.datasets.movielens_100k(ML100K)
    assert len(table) == 100_000 and table.user_id.nunique() == 943 and table.item_id.nunique() == 1682
    assert table.title.str.contains("é").any()  # Latin-1 decoded
    assert table.genres.str.contains(r"\|").any() and table.age.notna().all()
    spec = ctr.FeatureSpec.from_yaml("feature_specs/movielens-100k.yaml")
    raw = raw_features(table, spec)
    assert set(raw) == set(spec.names)
    assert labels(table, spec).mean() == pytest.approx((21201 + 34174) / 100_000)


@needs(ML1M)
def test_movielens_1m_real_folder_uses_the_sample_when_ratings_dat_is_absent():
    with pytest.warns(UserWarning, match="ratings.sample100k.dat"):
        table = ctr.datasets.movielens_1m(ML1M)
    assert len(table) == 100_000 and table.occupation.notna().all() and table.title.notna().all()
    assert set(table.columns) >= {"user_id", "item_id", "rating", "timestamp", "age", "gender", "genres"}


def _libfm_line(label: int, ids: list[int]) -> str:
    offsets = np.cumsum([0, *FRAPPE_FIELDS.values()])[:-1]
    return f"{label} " + " ".join(f"{o + i}:1" for o, i in zip(offsets, ids, strict=True))


def test_frappe_loader_on_tiny_files(tmp_path):
    folder = tmp_path / "frappe"
    folder.mkdir()
    first, second = [5, 10, 0, 6, 1, 2, 1, 8, 79, 232], [0, 4081, 6, 0, 0, 0, 0, 0, 0, 0]
    (folder / "frappe.test.libfm").write_bytes(  # CRLF, as published
        (_libfm_line(1, first) + "\r\n" + _libfm_line(-1, second) + "\r\n").encode())
    (folder / "frappe.validation.libfm").write_text(_libfm_line(-1, second) + "\n")
    table = ctr.datasets.frappe(folder)
    assert list(table.columns) == ["click", *ctr.datasets.frappe_spec().names, "split"]
    assert table.click.tolist() == [0, 1, 0] and table.split.tolist() == ["validation", "test", "test"]
    assert table.iloc[1, 1:11].tolist() == first and table.iloc[2, 1:11].tolist() == second
    assert len(ctr.datasets.frappe(folder / "frappe.test.libfm")) == 2
    from ctr.cli import load_table

    assert load_table(str(folder)).equals(table)  # `ctr fit --data FOLDER` recognises it
    raw = raw_features(table, ctr.datasets.frappe_spec())
    assert raw["city"].tolist() == [0, 232, 0] and labels(table, ctr.datasets.frappe_spec()).tolist() == [0, 1, 0]

    (folder / "frappe.test.libfm").write_text(_libfm_line(1, first) + "\n1 5:1 960:1\n")
    with pytest.raises(ctr.DataError, match=r"frappe.test.libfm, line 2: expected a label .* and 10 index:1 pairs"):
        ctr.datasets.frappe(folder)
    (folder / "frappe.test.libfm").write_text(_libfm_line(1, [957, *first[1:]]) + "\n")  # an item's index
    with pytest.raises(ctr.DataError, match=r"line 1: index 957 is not a 'user' value .*0\.\.956"):
        ctr.datasets.frappe(folder)
    with pytest.raises(ctr.DataError, match="no Frappe files here"):
        ctr.datasets.frappe(tmp_path)


def _criteo_lines(n: int, seed: int = 0, label: bool = True) -> list[str]:
    """Lines in the Criteo layout: a label, 13 counts and 26 hashed categories, some of each empty."""
    rng = np.random.default_rng(seed)
    lines = []
    for _ in range(n):
        counts = [str(rng.integers(-2, 500)) if rng.random() > 0.2 else "" for _ in range(13)]
        categories = [f"{int(rng.zipf(1.5)) * 7919 % 2**32:08x}" if rng.random() > 0.1 else "" for _ in range(26)]
        lines.append("\t".join(([str(rng.integers(0, 2))] if label else []) + counts + categories))
    return lines


def test_criteo_loader_reads_the_headerless_layout_and_names_damage(tmp_path):
    from ctr.cli import _data_format, load_table
    from ctr.datasets import criteo, criteo_spec, criteo_to_parquet

    path = tmp_path / "train.txt"
    path.write_text("\n".join(_criteo_lines(300)) + "\n")
    table = criteo(path)
    assert list(table.columns) == ["label", *(f"I{i}" for i in range(1, 14)), *(f"C{i}" for i in range(1, 27))]
    first = path.read_text().splitlines()[0].split("\t")
    assert table.label.dtype == np.int64 and table.label.iloc[0] == int(first[0])
    assert [("" if np.isnan(v) else str(int(v))) for v in table.iloc[0, 1:14]] == first[1:14]
    assert [("" if pd.isna(v) else v) for v in table.iloc[0, 14:]] == first[14:]  # '0000ab12' keeps its zeros
    assert len(criteo(path, rows=7)) == 7 and pd.concat(list(ctr.datasets.criteo_chunks(path, 64))).equals(table)
    # `ctr fit --data train.txt` recognises the layout, and the ready spec reads it.
    assert _data_format(str(path)) == "criteo" and load_table(str(path)).equals(table)
    assert ctr.FeatureSpec.from_yaml(ROOT / "feature_specs" / "criteo.yaml") == criteo_spec()
    model = ctr.LogisticRegression(criteo_spec(min_count=2), batch_size=64)
    model.fit(table, epochs=1, verbose=0)
    # Larger than memory: one Parquet file, written chunk by chunk, which fit streams.
    out = criteo_to_parquet(path, tmp_path / "criteo.parquet", chunk_rows=100, verbose=0)
    assert read(out).equals(table)
    np.testing.assert_allclose(model.predict(out), model.predict(table), rtol=1e-6)
    # Every reader of a path reads the layout, compressed too (the 1TB logs' day_0.gz), and streams it.
    import gzip

    day = tmp_path / "day_0.gz"
    day.write_bytes(gzip.compress(path.read_bytes()))
    for source in (path, day):
        assert read(source).equals(table) and ctr.data.count_rows(source) == 300
        assert pd.concat(list(iter_chunks(source, ["label", "C3"], chunk_rows=128))).equals(table[["label", "C3"]])
        np.testing.assert_allclose(model.predict(source), model.predict(table), rtol=1e-6)
    unlabelled = tmp_path / "test.txt"  # Kaggle's test.txt: no label
    unlabelled.write_text("\n".join(_criteo_lines(5, label=False)) + "\n")
    assert list(criteo(unlabelled).columns) == list(table.columns[1:]) and _data_format(str(unlabelled)) == "criteo"

    lines = path.read_text().splitlines()
    for broken, said in [
            (["1\t2\t3"], r"train.txt, line 1: expected 40 tab-separated fields \(a 0/1 label, 13 counts I1..I13 and "
                           r"26 categories C1..C26, any of them empty; 39 without the label, as Kaggle's test.txt\), "
                           r"got 3"),
            ([*lines[:200], "7" + lines[200][1:]], r"train.txt, line 201: the label \(the first field\) must be 0 or "
                                                   r"1, got 7"),
            ([*lines[:150], lines[150] + "\textra"], r"train.txt: expected 40 tab-separated fields a line .*line 151"),
            ([*lines[:99], "1\tmany" + lines[99][lines[99].index("\t", 2):]], r"train.txt, line 100: I1 must be a "
                                                                               r"count \(a whole number\) or empty, "
                                                                               r"got 'many'")]:
        path.write_text("\n".join(broken) + "\n")
        with pytest.raises(ctr.DataError, match=said):
            criteo(path, rows=None)
    with pytest.raises(ctr.DataError, match=r"no Criteo file at .*a folder: give one of its files"):
        criteo(tmp_path)
    path.write_text("\n".join(lines) + "\n")
    day.write_bytes(gzip.compress(path.read_bytes())[:2000])  # a download cut short
    with pytest.raises(ctr.DataError, match=r"day_0.gz: not readable as Criteo's tab-separated text \(Compressed "):
        criteo(day)


def test_text_files_of_other_suffixes_are_named_with_how_to_give_them(tmp_path):
    """MovieLens' ratings.dat ('::') and u.data (tabs), a .data of commas: named as the text they are, with
    the dataset's format or the pandas line that reads them, not only as files that are no Parquet."""
    (tmp_path / "ratings.dat").write_text("1::1193::5::978300760\n1::661::3::978302109\n")
    with pytest.raises(ctr.DataError, match=r"ratings.dat: not a readable Parquet .*; it is text of fields separated "
                                            r"by '::', as MovieLens 1M's .dat files are: give their folder \(--format "
                                            r"movielens-1m; .* pandas.read_csv\('.*ratings.dat', sep='::', "
                                            r"engine='python', header=None, names=\['column1', 'column2', 'column3', "
                                            r"'column4'\], encoding='latin-1'\)"):
        read(tmp_path / "ratings.dat")
    (tmp_path / "clicks.data").write_text("1,2,0\n3,4,1\n")
    with pytest.raises(ctr.DataError, match=r"; it is text of fields separated by commas: give it a \.csv name$"):
        read(tmp_path / "clicks.data")
    (tmp_path / "ml").mkdir()
    for name in ("u.data", "u.item"):
        (tmp_path / "ml" / name).write_text("196\t242\t3\t881250949\n")
    with pytest.raises(ctr.DataError, match=r"; it is one of MovieLens 100K's files: give their folder \(--format "
                                            r"movielens-100k; ctr.datasets.movielens_100k\(folder\) in Python\)$"):
        read(tmp_path / "ml" / "u.data")
    # A folder of them as Hadoop, Spark and Hive name them, and a note beside Parquet files.
    (tmp_path / "out").mkdir()
    for name in ("_SUCCESS", "part-00000", "part-00001"):
        (tmp_path / "out" / name).write_text("" if name == "_SUCCESS" else "1,2,0\n3,4,1\n")
    with pytest.raises(ctr.DataError, match=r"out: not a readable Parquet .*; its files \(part-00000, part-00001\) "
                                            r"are text of fields separated by commas: give them a \.csv name, and "
                                            r"the folder is read as one table of its \.csv files$"):
        read(tmp_path / "out")
    (tmp_path / "hive").mkdir()
    (tmp_path / "hive" / "000000_0").write_text("1\x012\x010\n")
    with pytest.raises(ctr.DataError, match=r"its files \(000000_0\) are text of fields separated by Ctrl-A "
                                            r"\('\\x01', Hive's\): convert them, e.g. pandas.read_csv\(file, "
                                            r"sep='\\x01', header=None"):
        read(tmp_path / "hive")
    (tmp_path / "days").mkdir()
    for day in ("1", "2"):
        pd.DataFrame({"clicked": [0, 1]}).to_parquet(tmp_path / "days" / f"day{day}")
    (tmp_path / "days" / "NOTES").write_text("written by the nightly job\n")
    with pytest.raises(ctr.DataError, match=r"; 1 of its 3 files \(NOTES\) is text, not data of the others' format: "
                                            r"move it out$"):
        read(tmp_path / "days")
    (tmp_path / "days" / "NOTES").unlink()
    assert len(read(tmp_path / "days")) == 4


def test_a_parquet_file_in_an_archive_is_named_so(tmp_path, frame):
    """rows.parquet.zip and rows.parquet.gz (as a download or an email attaches them): named as the archive
    they are, with what it holds and what to do, not only as files that are no Parquet."""
    import gzip
    import zipfile

    frame.head(20).to_parquet(tmp_path / "rows.parquet")
    with zipfile.ZipFile(tmp_path / "rows.parquet.zip", "w") as archive:
        archive.write(tmp_path / "rows.parquet", "rows.parquet")
        archive.writestr("__MACOSX/._rows.parquet", b"")
    with pytest.raises(ctr.DataError, match=r"rows.parquet.zip: not a readable Parquet .*; it is a zip archive holding "
                                            r"rows.parquet: unzip it and give the file \(or its folder\), since "
                                            r"Parquet and Arrow files are read by seeking in the file itself"):
        read(tmp_path / "rows.parquet.zip")
    (tmp_path / "rows.parquet.gz").write_bytes(gzip.compress((tmp_path / "rows.parquet").read_bytes()))
    with pytest.raises(ctr.DataError, match=r"; it is compressed with gzip: gunzip it \(gunzip -k rows.parquet.gz\) "
                                            r"and give the file, since Parquet"):
        read(tmp_path / "rows.parquet.gz")


def test_a_csv_without_a_header_line_is_named_as_one(tmp_path):
    from ctr.data import header_of_data

    assert header_of_data(["0", "12", "Unnamed: 2", "a"]) == ["0", "12", "Unnamed: 2"]
    assert header_of_data(["0", "c8a3e1f0", "fe21a0b3"]) == ["0", "c8a3e1f0", "fe21a0b3"]  # hashed values
    assert header_of_data(["user_id", "2020", "2021", "region"]) == []  # names, some of them years
    assert header_of_data(["feature", "deadbeef"]) == []
    rows = tmp_path / "rows.csv"
    rows.write_text("1,31,15,a\n0,2,7,b\n")
    said = (r"its first line looks like a row of data, not column names \('1', '31', '15'...\): a CSV's first line "
            r"is read as its header, so give rows.csv a line naming its 4 columns, or convert it, naming them, e\.g\. "
            r"pandas\.read_csv\('.*rows\.csv', header=None, names=\['column1', 'column2', 'column3', \.\.\.\]\)"
            r"\.to_parquet\('.*rows\.parquet'\), and give that")
    with pytest.raises(ctr.DataError, match=r"columns 'user', 'item' are missing from .*rows.csv \(" + said):
        read(rows, ["user", "item"])
    with pytest.raises(ctr.DataError, match="draft_spec: .*rows.csv: " + said):
        ctr.draft_spec(rows)


@needs(FRAPPE)
def test_frappe_real_folder_has_the_published_splits():
    table = ctr.datasets.frappe(FRAPPE)
    counts = table.groupby("split").click.agg(["size", "sum"])
    # SOURCE.md: 57,722 validation rows (19,063 positive) and 28,860 test rows (9,536 positive).
    assert counts.loc["validation"].tolist() == [57_722, 19_063] and counts.loc["test"].tolist() == [28_860, 9_536]
    assert table.item.nunique() == 4082 and table.daytime.nunique() == 7


@pytest.mark.parametrize("call, named", [
    (lambda f: ctr.data.temporal_split(f, (0.5, 0.5)), "the data of temporal_split"),
    (lambda f: ctr.leave_one_out(f), "the data of leave_one_out"),
    (lambda f: ctr.data.add_history(f), "the data of add_history"),
    (lambda f: ctr.data.cold_user_split(f), "the data of cold_user_split"),
])
def test_functions_taking_column_names_say_how_to_name_them_when_the_defaults_are_missing(call, named):
    logs = pd.DataFrame({"customer": [1, 1], "sku": [2, 3], "ts": [3, 4]})
    with pytest.raises(ctr.DataError, match=rf"'timestamp' (is|are) missing from {named}; it has: 'customer', 'sku', "
                                            r"'ts' \(.+: name the columns with user=\.\.\.(, item=\.\.\.)? and "
                                            r"time=\.\.\., or give the spec whose features read them "
                                            r"\(spec=\.\.\.\)\)$"):
        call(logs)


def test_a_spec_that_names_no_user_or_time_column_says_so_when_their_defaults_are_missing():
    logs = pd.DataFrame({"customer": [1, 1], "sku": [2, 3], "ts": [3, 4]})
    spec = ctr.FeatureSpec([ctr.Categorical("sku", dtype="int", role="item"), ctr.Numeric("ts")])
    with pytest.raises(ctr.DataError, match=r"'user_id', 'timestamp' are missing from the data of leave_one_out; .+ "
                                            r"\(it holds out each user's latest row: the spec has no user id \(a "
                                            r"categorical feature of role user\) and no timestamp feature to name "
                                            r"them, so name the columns with user=\.\.\. and time=\.\.\.\)$"):
        ctr.leave_one_out(logs, spec=spec)


def test_rows_keyed_by_feature_names_where_the_spec_reads_other_columns_are_told_to_rename(tmp_path):
    """The feature names are the SavedModel signature's inputs; a DataFrame is read by the spec's columns."""
    spec = ctr.FeatureSpec([ctr.Categorical("user", column="user_id", dtype="int"),
                            ctr.Numeric("amount", column="Amount (EUR)")], label=ctr.Label("clicked"))
    rows = pd.DataFrame({"user_id": [1, 2, 3, 1], "Amount (EUR)": [0.5, 1.0, 2.0, 0.1], "clicked": [0, 1, 1, 0]})
    model = ctr.LogisticRegression(spec)
    model.fit(rows, verbose=0)
    served = ctr.load(model.export(tmp_path / "m"))
    by_name = rows.rename(columns={"user_id": "user", "Amount (EUR)": "amount"})
    told = (r"columns 'user_id', 'Amount \(EUR\)' are missing from the data; it has: 'user', 'amount', 'clicked' \(the "
            r"rows hold the feature names 'user', 'amount', but the spec reads each feature from its column: rename "
            r"them, frame\.rename\(columns=\{'user': 'user_id', 'amount': 'Amount \(EUR\)'\}\)\)")
    for call in (model.predict, model.evaluate, served.predict, served.evaluate):
        with pytest.raises(ctr.DataError, match=told):
            call(by_name)
    with pytest.raises(ctr.DataError, match=r"the rows hold the feature name 'user', but .* rename it, "
                                            r"frame\.rename\(columns=\{'user': 'user_id'\}\)\)$"):
        ctr.LogisticRegression(spec).fit(rows.rename(columns={"user_id": "user"}), verbose=0)


def test_a_file_where_an_output_folder_must_be_is_named(tmp_path, trained):
    (tmp_path / "notes").write_text("mine")
    message = r"notes is a file, so no folder can be made in it; choose another path$"
    with pytest.raises(ctr.ArgumentError, match=message):  # not a bare FileExistsError
        ctr.data.write_frames([pd.DataFrame({"a": [1]})], tmp_path / "notes" / "rows.csv")
    with pytest.raises(ctr.ArgumentError, match=message):  # not TensorFlow's "is not a directory"
        trained["lr"].save_weights(tmp_path / "notes" / "weights")
    with pytest.raises(ctr.ArgumentError, match=message):  # not a bare NotADirectoryError
        trained["lr"].spec.to_yaml(tmp_path / "notes" / "spec.yaml")
    draft = ctr.draft_spec(pd.DataFrame({"user_id": [1, 2, 3], "item_id": [4, 5, 6], "click": [0, 1, 0]}))
    with pytest.raises(ctr.ArgumentError, match=message):
        draft.to_yaml(tmp_path / "notes" / "drafted.yaml")
    trained["lr"].spec.to_yaml(tmp_path / "specs" / "spec.yaml")  # its folder made, as every output's is
    assert ctr.FeatureSpec.from_yaml(tmp_path / "specs" / "spec.yaml") == trained["lr"].spec
    assert (tmp_path / "notes").read_text() == "mine"
    pytest.importorskip("matplotlib")
    with pytest.raises(ctr.ArgumentError, match=message):
        ctr.inspect.plot_reliability(ctr.metrics.reliability(np.array([0, 1]), np.array([0.2, 0.7])),
                                     tmp_path / "notes" / "curve.png")
