"""The services behind the routes, called as a route calls them, without HTTP: they refuse with
the domain's refusals only (``domain.errors``), which ``api.errors`` answers."""

import random
from datetime import UTC, datetime

import pytest
from sqlmodel import select

from api.models import ApplicationCreate
from domain.calendar import local_date
from domain.errors import Unavailable
from services.intake import accept_application
from store.db import Database, session_scope
from store.records import open_case_for
from store.tables import AuditEntryRecord, CaseCounter, CaseHead, CaseRecord
from tests.helpers.actors import ASSISTANT
from tests.helpers.api import application
from tests.helpers.stack import RING
from workflows.client import application_workflow_id

# Not the module's generator: pytest-randomly seeds it alike before every test, and these
# numbers must differ between tests.
_unseeded = random.SystemRandom()


async def test_an_intake_whose_workflow_cannot_start_is_unavailable_and_leaves_nothing(
    dev_env, settings
):
    """The case engine refuses to start the new case's workflow (a workflow of its id exists
    from before, another case's): the intake is refused as ``Unavailable`` (503 "try again"),
    and neither its records nor its family's claim stay, so the same family is taken in as
    soon as the engine starts it."""
    year = local_date(datetime.now(UTC)).year
    last = _unseeded.randrange(10**5, 9 * 10**5)
    with session_scope(settings.database_url, writes=True) as session:
        session.add(CaseCounter(year=year, last=last))
    taken = application_workflow_id(f"370305-{year}-{last + 1:06d}")
    squatter = await dev_env.client.start_workflow("Elsewhere", id=taken, task_queue="nowhere")
    intake = ApplicationCreate.model_validate(application()).intake()
    try:
        with pytest.raises(Unavailable, match="nothing was saved, try again"):
            await accept_application(
                db=Database(settings.database_url),
                client=dev_env.client,
                settings=settings,
                user=ASSISTANT,
                application=intake,
            )
    finally:
        await squatter.terminate("test over")
    people = [intake.applicant.id_number, *(m.id_number for m in intake.household)]
    with session_scope(settings.database_url) as session:
        for table in (CaseRecord, AuditEntryRecord, CaseHead):
            assert session.exec(select(table)).all() == []
        assert open_case_for(session, assistance_type="dibao", id_numbers=people, ring=RING) is None
