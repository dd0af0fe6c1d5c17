"""Committed histories replay on today's workflow code: a change that would break running
cases fails here. After a deliberate, compatible change, ``make histories`` adds new ones."""

import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from tests.helpers.stack import CONVERTER
from worker import WORKFLOWS
from workflows.client import ENCRYPTED

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


def test_there_are_histories_of_every_workflow_to_replay():
    workflows = {
        json.loads(p.read_text())["events"][0]["workflowExecutionStartedEventAttributes"][
            "workflowType"
        ]["name"]
        for p in HISTORIES
    }
    assert workflows == {w.__name__ for w in WORKFLOWS}


def test_there_are_histories_from_before_and_after_payload_encryption():
    """The histories replay with every worker's codec: plain payloads pass through it."""
    encodings = {
        WorkflowHistory.from_json(p.stem, p.read_text())
        .events[0]
        .workflow_execution_started_event_attributes.input.payloads[0]
        .metadata["encoding"]
        for p in HISTORIES
    }
    assert encodings == {b"json/plain", ENCRYPTED}


@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: p.stem)
async def test_history_replays(path: Path):
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    replayer = Replayer(workflows=WORKFLOWS, data_converter=CONVERTER)
    result = await replayer.replay_workflow(history, raise_on_replay_failure=True)
    assert result.replay_failure is None
