"""export_workflow_filename: the Python Workflow Definition file equals executorlib's and runs elsewhere."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import xgraph_calls as calls

import executor

executorlib = pytest.importorskip("executorlib", reason="executorlib is the reference for the exported JSON")
pwd_models = pytest.importorskip("python_workflow_definition.models", reason="needs the test extra")


def _export(module: object, workflow: str, path: Path) -> str:
    with module.SingleNodeExecutor(export_workflow_filename=str(path)) as ex:  # type: ignore[attr-defined]
        calls.WORKFLOWS[workflow](ex, module.split_future, module.get_item_from_future)  # type: ignore[attr-defined]
    return path.read_text()


@pytest.mark.parametrize("workflow", sorted(calls.WORKFLOWS))
def test_exported_file_is_executorlibs(workflow: str, tmp_path: Path) -> None:
    if workflow == "numpy":
        pytest.importorskip("numpy")
    ours = _export(executor, workflow, tmp_path / "ours.json")
    theirs = _export(executorlib, workflow, tmp_path / "executorlib.json")
    assert ours == theirs
    loaded = pwd_models.PythonWorkflowDefinitionWorkflow.load_json_file(file_name=str(tmp_path / "ours.json"))
    assert len(loaded["nodes"]) == len(json.loads(ours)["nodes"])


def test_exported_workflow_runs_to_the_same_result(tmp_path: Path) -> None:
    # [future, 4, 5]: executorlib's file loses the 4 and 5 (its runner then computes 7.0); ours keeps them.
    purepython = pytest.importorskip("python_workflow_definition.purepython")
    with executor.SingleNodeExecutor(export_workflow_filename=str(tmp_path / "wf.json")) as ex:
        calls.with_items(ex, executor.split_future, executor.get_item_from_future)
    with executor.SingleNodeExecutor() as ex:
        expected = calls.with_items(ex, executor.split_future, executor.get_item_from_future).result()
    assert purepython.load_workflow_json(file_name=str(tmp_path / "wf.json")) == expected == 27.0


def test_selections_name_their_key_or_index_as_source_port(tmp_path: Path) -> None:
    document = json.loads(_export(executor, "selectors", tmp_path / "wf.json"))
    ports = {(e["sourcePort"], e["targetPort"]) for e in document["edges"] if e["sourcePort"] is not None}
    assert ports == {("0", "0"), ("1", "1"), ("total", "0"), ("n", "n"), ("total", "y")}
    assert document["nodes"][-1] == {"id": len(document["nodes"]) - 1, "type": "output", "name": "result"}


def test_identical_calls_are_one_node(tmp_path: Path) -> None:
    # executorlib raises KeyError at exit for this workflow; ours merges the two calls as executorlib intends.
    with executor.SingleNodeExecutor(export_workflow_filename=str(tmp_path / "wf.json")) as ex:
        a = ex.submit(calls.add, 1, 2)
        b = ex.submit(calls.add, 1, 2)
        ex.submit(calls.add, a, b)
    nodes = json.loads((tmp_path / "wf.json").read_text())["nodes"]
    assert [n["value"] for n in nodes if n["type"] == "function"] == ["xgraph_calls.add"] * 2


def test_a_single_call_without_arguments_still_has_an_output(tmp_path: Path) -> None:
    with executor.SingleNodeExecutor(export_workflow_filename=str(tmp_path / "wf.json")) as ex:
        ex.submit(dict)
    document = json.loads((tmp_path / "wf.json").read_text())
    assert document["edges"] == [{"target": 1, "targetPort": None, "source": 0, "sourcePort": None}]


def test_a_value_json_cannot_hold_is_named(tmp_path: Path) -> None:
    ex = executor.SingleNodeExecutor(export_workflow_filename=str(tmp_path / "wf.json"))
    ex.submit(calls.add, x=object(), y=1)
    with pytest.raises(TypeError, match=r"the input 'x' = <object object at .*JSON values only"):
        ex.shutdown()
    assert not (tmp_path / "wf.json").exists()


def test_futures_in_star_args_feed_a_list_node(tmp_path: Path) -> None:
    # executorlib writes the *args tuple, futures included, as a literal (and then fails to write the JSON).
    with executor.SingleNodeExecutor(export_workflow_filename=str(tmp_path / "wf.json")) as ex:
        a = ex.submit(calls.add, 1, 2)
        ex.submit(calls.star, 7, a, key="value")
    document = json.loads((tmp_path / "wf.json").read_text())
    nodes = {n["id"]: n for n in document["nodes"]}
    [to_list] = [e for e in document["edges"] if e["targetPort"] == "values"]
    assert nodes[to_list["source"]]["value"] == "python_workflow_definition.shared.get_list"
    assert {"target": to_list["source"], "targetPort": "1", "source": 0, "sourcePort": None} in document["edges"]


def test_slurm_job_executor_exports_the_same_file_without_srun(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # executorlib's SlurmJobExecutor plots and exports as its SingleNodeExecutor does; in plot mode nothing runs,
    # so no srun is needed (PATH without one here).
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    with executor.SlurmJobExecutor(export_workflow_filename=str(tmp_path / "slurm.json")) as ex:
        calls.WORKFLOWS["selectors"](ex, executor.split_future, executor.get_item_from_future)
    monkeypatch.undo()
    assert (tmp_path / "slurm.json").read_text() == _export(executor, "selectors", tmp_path / "local.json")
