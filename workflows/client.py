"""How every process talks to Temporal: one data converter (pydantic: Decimal, dates, enums)."""

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

DATA_CONVERTER = pydantic_data_converter


async def connect(address: str, namespace: str) -> Client:
    return await Client.connect(address, namespace=namespace, data_converter=DATA_CONVERTER)


def application_workflow_id(case_no: str) -> str:
    return f"application-{case_no}"
