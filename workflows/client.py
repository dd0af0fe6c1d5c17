"""How every process talks to Temporal: one data converter (pydantic: Decimal, dates, enums)."""

from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.contrib.pydantic import PydanticJSONPlainPayloadConverter
from temporalio.converter import (
    CompositePayloadConverter,
    DataConverter,
    DefaultPayloadConverter,
    JSONPlainPayloadConverter,
)


class CasePayloadConverter(CompositePayloadConverter):
    """Temporal's pydantic JSON conversion, with one type-adapter cache for the whole process.

    The workflow sandbox makes a converter for every workflow run; with a cache of its own,
    each run built pydantic's schemas for every case message afresh, costly on a busy worker.
    """

    shared_json = PydanticJSONPlainPayloadConverter()

    def __init__(self) -> None:
        super().__init__(
            *(
                self.shared_json if isinstance(c, JSONPlainPayloadConverter) else c
                for c in DefaultPayloadConverter.default_encoding_payload_converters
            )
        )


DATA_CONVERTER = DataConverter(payload_converter_class=CasePayloadConverter)


async def connect(address: str, namespace: str) -> Client:
    return await Client.connect(address, namespace=namespace, data_converter=DATA_CONVERTER)


CASE_WORKFLOWS = ("ApplicationWorkflow", "EmergencyWorkflow")
_PREFIXES = ("application-", "emergency-")


def application_workflow_id(case_no: str) -> str:
    """The workflow of a case is named after its number: starting it twice is impossible."""
    return f"application-{case_no}"


def emergency_workflow_id(case_no: str) -> str:
    return f"emergency-{case_no}"


def case_no_of(workflow_id: str) -> str:
    for prefix in _PREFIXES:
        if workflow_id.startswith(prefix):
            return workflow_id.removeprefix(prefix)
    return workflow_id


HALTED_STATUSES = (
    WorkflowExecutionStatus.TERMINATED,
    WorkflowExecutionStatus.FAILED,
    WorkflowExecutionStatus.TIMED_OUT,
    WorkflowExecutionStatus.CANCELED,
)
"""How a workflow ends when the engine, not the procedure, stopped it."""
