"""read_history: our JSONL, Jepsen EDN, Jepsen 0.0.x logs, and clear errors on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import edn_format
import pytest

from harness.errors import BadInput
from harness.history.readers import _fast_edn_map, _from_edn, read_history

CORPUS = Path(__file__).resolve().parent.parent / "data" / "porcupine"


def write(tmp_path: Path, text: str, name: str = "history") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# ------------------------------------------------------------------ JSON Lines

def test_reads_our_jsonl_with_extra_fields(tmp_path: Path) -> None:
    lines = [
        {"index": 0, "time": 1200, "process": 0, "type": "invoke", "f": "acquire", "key": "L", "value": None},
        {"index": 1, "time": 91800, "process": 0, "type": "ok", "f": "acquire", "key": "L",
         "value": {"token": 7, "validity_ms": 4890}, "node_errors": {"n1": "timeout"}},
        {"index": 2, "time": 95000, "process": "nemesis", "type": "info", "f": "partition",
         "value": {"isolated": ["n1", "n2"]}},
    ]
    events = read_history(write(tmp_path, "\n".join(json.dumps(line) for line in lines) + "\n"))
    assert [(e.index, e.time, e.process, e.type, e.f, e.key) for e in events] == [
        (0, 1200, 0, "invoke", "acquire", "L"), (1, 91800, 0, "ok", "acquire", "L"),
        (2, 95000, "nemesis", "info", "partition", None)]
    assert events[1].value == {"token": 7, "validity_ms": 4890}
    assert dict(events[1].extra) == {"node_errors": {"n1": "timeout"}}
    assert dict(events[0].extra) == {}


def test_empty_file_is_an_empty_history(tmp_path: Path) -> None:
    assert read_history(write(tmp_path, "")) == []
    assert read_history(write(tmp_path, "\n  \n", "blank")) == []


@pytest.mark.parametrize(("line", "field", "reason"), [
    ('{"index": 0, "time": 1, "process": 0, "type": "begin", "f": "read"}', "type", "type must be one of"),
    ('{"index": 0, "time": 1, "process": 0, "type": "invoke"}', "f", "missing field 'f'"),
    ('{"index": 0, "time": "soon", "process": 0, "type": "invoke", "f": "read"}', "time", "time must be"),
    ('{"index": 0, "time": 1.5, "process": 0, "type": "invoke", "f": "read"}', "time", "time must be"),
    ('{"index": 0, "time": 1, "process": [1], "type": "invoke", "f": "read"}', "process", "process must be"),
    ('{"index": "0", "time": 1, "process": 0, "type": "invoke", "f": "read"}', "index", "index must be"),
])
def test_bad_jsonl_fields_name_line_and_field(tmp_path: Path, line: str, field: str, reason: str) -> None:
    good = '{"index": 0, "time": 0, "process": 9, "type": "invoke", "f": "read"}'
    path = write(tmp_path, good + "\n" + line + "\n")
    with pytest.raises(BadInput) as raised:
        read_history(path)
    error = raised.value
    assert (error.path, error.line, error.field) == (str(path), 2, field)
    assert reason in error.reason
    assert str(path) in str(error) and ":2" in str(error)


def test_a_time_written_as_a_float_is_bad_input_even_when_whole(tmp_path: Path) -> None:
    """Integer nanoseconds only: a float time (1200.0 too) says the writer is not ours, and its
    neighbours may have lost precision (2**53), which can reorder events and flip a verdict."""
    path = write(tmp_path, '{"index": 0, "time": 1200.0, "process": 0, "type": "invoke", "f": "read"}\n')
    with pytest.raises(BadInput) as raised:
        read_history(path)
    assert raised.value.line == 1 and raised.value.field == "time"


def test_truncated_json_line_names_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, '{"index": 0, "time": 0, "process": 0, "type": "invoke", "f": "read"}\n'
                           '{"index": 1, "time": 1, "process": 0, "ty')
    with pytest.raises(BadInput, match="invalid JSON") as raised:
        read_history(path)
    assert raised.value.line == 2


def test_a_process_with_two_operations_in_flight_is_bad_input(tmp_path: Path) -> None:
    lines = [{"index": i, "time": i, "process": 1, "type": "invoke", "f": f} for i, f in enumerate(["read", "write"])]
    path = write(tmp_path, "\n".join(json.dumps(line) for line in lines))
    with pytest.raises(BadInput, match="at most one operation in flight") as raised:
        read_history(path)
    assert (raised.value.line, raised.value.field) == (2, "process")
    assert "line 1" in raised.value.reason


def test_a_completion_without_invocation_is_bad_input(tmp_path: Path) -> None:
    path = write(tmp_path, '{"index": 0, "time": 0, "process": 1, "type": "ok", "f": "read", "value": 3}\n')
    with pytest.raises(BadInput, match="without a pending invocation") as raised:
        read_history(path)
    assert raised.value.line == 1


def test_missing_file_and_directory_are_bad_input(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="no such file"):
        read_history(tmp_path / "nope.jsonl")
    with pytest.raises(BadInput, match="is a directory"):
        read_history(tmp_path)


def test_unrecognised_format_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="unrecognised history format") as raised:
        read_history(write(tmp_path, "\nhello world\n"))
    assert raised.value.line == 2


# ------------------------------------------------------------------ EDN

def test_reads_jepsen_edn_maps(tmp_path: Path) -> None:
    text = ('{:process 0, :type :invoke, :f :append, :key "0", :value "x 0 0 y", :time 100}\n'
            '{:process 0, :type :ok, :f :append, :key "0", :value "x 0 0 y", :time 200}\n'
            '{:process :nemesis, :type :info, :f :start, :value nil, :time 300}\n'
            '{:process 1, :type :invoke, :f :cas, :value [1 2], :time 500}\n'
            '{:process 1, :type :fail, :f :cas, :value [1 2], :time 700, :error :precondition}\n')
    events = read_history(write(tmp_path, text))
    assert [(e.process, e.type, e.f, e.key, e.value) for e in events] == [
        (0, "invoke", "append", "0", "x 0 0 y"), (0, "ok", "append", "0", "x 0 0 y"),
        ("nemesis", "info", "start", None, None), (1, "invoke", "cas", None, [1, 2]),
        (1, "fail", "cas", None, [1, 2])]
    assert [e.time for e in events] == [100, 200, 300, 500, 700]
    assert dict(events[4].extra) == {"error": "precondition"}
    untimed = "".join(line.split(", :time")[0] + "}\n" for line in text.splitlines())
    assert [e.time for e in read_history(write(tmp_path, untimed))] == [0, 1, 2, 3, 4]  # positions


def test_reads_a_jepsen_edn_vector_of_maps(tmp_path: Path) -> None:
    text = '[{:process 0 :type :invoke :f :read :value nil}\n {:process 0 :type :ok :f :read :value {:x #{1}}}]'
    events = read_history(write(tmp_path, text))
    assert [(e.type, e.value) for e in events] == [("invoke", None), ("ok", {"x": [1]})]


def test_nested_edn_values_go_through_edn_format(tmp_path: Path) -> None:
    text = '{:process 0, :type :invoke, :f :txn, :value [[:r 1 nil] {:a "b\\"c"}]}\n'
    events = read_history(write(tmp_path, text))
    assert events[0].value == [["r", 1, None], {"a": 'b"c'}]


def test_malformed_edn_names_the_line(tmp_path: Path) -> None:
    text = '{:process 0, :type :invoke, :f :read, :value nil}\n{:process 0, :type :ok, :f :read\n'
    with pytest.raises(BadInput, match="invalid EDN") as raised:
        read_history(write(tmp_path, text))
    assert raised.value.line == 2


def test_edn_with_a_bad_type_names_the_field(tmp_path: Path) -> None:
    with pytest.raises(BadInput) as raised:
        read_history(write(tmp_path, '{:process 0, :type :begin, :f :read, :value nil}\n'))
    assert (raised.value.line, raised.value.field) == (1, "type")


def test_the_fast_edn_path_agrees_with_edn_format_on_every_corpus_line() -> None:
    checked = 0
    for path in sorted((CORPUS / "kv").iterdir()):
        for line in path.read_text().splitlines():
            fast = _fast_edn_map(line.strip())
            assert fast is not None, line
            assert fast == _from_edn(edn_format.loads(line)), line
            checked += 1
    assert checked > 9000


@pytest.mark.parametrize("line", [
    '{:a 1, :a 2}',                   # duplicate key: edn_format decides
    '{:value "with \\"escape\\""}',   # escapes
    '{:value 1.5}', '{:value 12N}',   # numbers beyond the fast path
    '{:value [1 [2]]}',               # nesting
])
def test_the_fast_edn_path_declines_what_it_does_not_cover(line: str) -> None:
    assert _fast_edn_map(line) is None


# ------------------------------------------------------------------ Jepsen logs

def test_reads_jepsen_log_lines_with_tabs_and_spaces(tmp_path: Path) -> None:
    text = ("INFO  jepsen.util - 3\t:invoke\t:cas\t[2 0]\n"
            "INFO  jepsen.util - 1   :invoke :read   nil\n"
            "INFO  jepsen.util - 3\t:info\t:cas\t:timed-out\n"
            "INFO  jepsen.util - 1   :fail   :read   :timed-out\n"
            "INFO  jepsen.util - :nemesis\t:info\t:start\tnil\n"
            "INFO  jepsen.core - Run complete, writing\n")
    events = read_history(write(tmp_path, text))
    assert [(e.process, e.type, e.f, e.value) for e in events] == [
        (3, "invoke", "cas", [2, 0]), (1, "invoke", "read", None), (3, "info", "cas", "timed-out"),
        (1, "fail", "read", "timed-out"), ("nemesis", "info", "start", None)]
    assert [e.index for e in events] == [0, 1, 2, 3, 4]


def test_a_log_may_start_with_other_log_output(tmp_path: Path) -> None:
    text = ("INFO  jepsen.core - Running test\n"
            "INFO  jepsen.util - 0\t:invoke\t:write\t1\n"
            "INFO  jepsen.util - 0\t:ok\t:write\t1\n")
    assert [e.type for e in read_history(write(tmp_path, text))] == ["invoke", "ok"]


def test_a_malformed_log_line_names_its_line(tmp_path: Path) -> None:
    text = "INFO  jepsen.util - 3\t:invoke\t:cas\t[2 0]\nINFO  jepsen.util - 3\t:done\t:cas\t[2 0]\n"
    with pytest.raises(BadInput, match="not a Jepsen log event") as raised:
        read_history(write(tmp_path, text))
    assert raised.value.line == 2


def test_every_corpus_file_reads() -> None:
    etcd = sorted((CORPUS / "etcd").iterdir())
    sizes = {path.name: len(read_history(path)) for path in etcd}
    assert len(sizes) == 103 and sizes["etcd_095.log"] == 0
    assert all(size > 0 for name, size in sizes.items() if name != "etcd_095.log")
    for path in (CORPUS / "kv").iterdir():
        events = read_history(path)
        assert events and all(e.key is not None for e in events)


def test_a_completion_timed_before_its_invocation_is_bad_input(tmp_path: Path) -> None:
    path = write(tmp_path, '{"index": 0, "time": 50, "process": 1, "type": "invoke", "f": "read"}\n'
                           '{"index": 1, "time": 40, "process": 1, "type": "ok", "f": "read", "value": 3}\n')
    with pytest.raises(BadInput, match="earlier than its invocation") as raised:
        read_history(path)
    assert (raised.value.line, raised.value.field) == (2, "time")
