"""What every case workflow does, written once: ``CaseWorkflow``, the shape each kind's workflow
takes: one way to apply a caseworker's action, the life of the case between its timed events,
its reads. A workflow holds its rules (a ``domain.casework.CaseFile``) and one ``Casework``
around them (``workflows.dealings``: the records, staff, payments, SMS)."""

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import SearchAttributeUpdate

with workflow.unsafe.imports_passed_through():
    from domain.cases import CalendarPublished, InterventionRecord
    from domain.casework import After, CaseFile
    from workflows.alarm import Alarm
    from workflows.dealings import Casework
    from workflows.errors import check

Message = TypeVar("Message")
Result = TypeVar("Result")


class CaseWorkflow:
    """The shape of a case workflow. A kind's workflow subclasses it: its ``@workflow.init``
    makes the case's rules and calls this one; its ``@workflow.run`` starts what the kind does
    at once, then ``follow``s the case; each caseworker action is an Update of one line
    (``apply``) with a validator of one line (``workflows.errors.check``); its queries come
    from ``reads``. What differs between kinds are the hooks at the end."""

    case: CaseFile

    def __init__(
        self, case: CaseFile, *, search_attributes: Callable[[Any], list[SearchAttributeUpdate]]
    ) -> None:
        self.case = case
        self.work = Casework(case, search_attributes=search_attributes)
        self.alarm = Alarm()
        self._recount_asked = False
        self._calls: list[asyncio.Task[Any]] = []

    @workflow.signal
    def calendar_published(self, published: CalendarPublished) -> None:
        """The holiday calendar changed: the deadlines are counted again (the timers move)."""
        self._recount_asked = True

    async def apply(
        self,
        check: Callable[[Message], None],
        change: Callable[..., After | None],
        message: Message,
    ) -> Any:
        """A caseworker's action, the one way: under the lock, the rule's check (again: the
        case may have moved since the validator passed it), then the change is ``record``ed.
        The answer is the case as written (an emergency sent to payment: once its reserve
        hold is placed or found short)."""

        def checked() -> After | None:
            check(message)
            return change(message, now=workflow.now())

        after = await self.record(checked)
        if after.await_hold:
            return await self._once_held()
        return self.case.view

    async def record(self, change: Callable[[], After | None]) -> After:
        """A change to the case under the lock: the deadlines counted again when it moved
        them, the records written, then whatever else the rules say follows it."""
        async with self.work.lock:
            after = change() or After()
            if after.recount:
                await self._recount()
            await self.work.write()
            if after.alert:
                await self.work.notify_staff(after.alert)
            if after.reverify:
                self._reverify()
        return after

    def _check_capped(self, record: InterventionRecord) -> None:
        """An intervention's check in its Update: the cap on extensions holds for the cases
        that had it when the intervention was made (``extension-cap``)."""
        check(self.case.check_intervention, record, capped=workflow.patched("extension-cap"))

    async def follow(self) -> Any:
        """The case from now until it is closed and nothing it started still runs: its timed
        events fire as they fall due, one durable alarm waiting for the next; between them,
        what the kind does (``_before_events``, ``_after_events``). The case as it ended,
        once every Update has been answered."""
        case, work, alarm = self.case, self.work, self.alarm
        work.index()
        while True:
            await self._before_events()
            if self._recount_asked:
                self._recount_asked = False
                async with work.lock:
                    await self._calendar_changed()
            await self._fire_due_events()
            waking = await self._after_events()
            if waking is None:
                break
            alarm.set(case.next_moment(case.events()))
            work.written = False
            await workflow.wait_condition(
                lambda: (
                    work.written
                    or self._recount_asked
                    or alarm.rang
                    or any(task.done() for task in waking)  # noqa: B023 (this iteration's)
                )
            )
            alarm.spent()
        alarm.cancel()
        await self._closing()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return case.view

    def call(self, call: Coroutine[Any, Any, Result]) -> asyncio.Task[Result]:
        """A call to an external system, beside the case's life (``continue_as_new`` leaves
        it to the next run)."""
        task = asyncio.create_task(call)
        self._calls.append(task)
        return task

    async def continue_as_new(self) -> None:
        """Carry the case into a fresh run before its history grows too long for the server
        (which would terminate it): once no action is under way and everything is written.
        The calls to external systems still under way are made again by the new run, under
        the same idempotency keys."""
        await workflow.wait_condition(
            lambda: workflow.all_handlers_finished() and not self.work.lock.locked()
        )
        self.alarm.cancel()
        for task in self._calls:
            task.cancel()
        workflow.logger.info("case %s continues as new", self.case.view.case_no)
        workflow.continue_as_new(self.case)

    async def _fire_due_events(self) -> None:
        """Each timed event fires once, on the record (and before staff when it alerts)."""
        async with self.work.lock:
            now = workflow.now()
            for event in self.case.due(self.case.events(), now):
                alert = self.case.fire(event, now=now)
                if alert is None:
                    await self.work.write()
                else:
                    await self.work.alert(alert)

    # ---- what each kind fills in ------------------------------------------------------

    async def _before_events(self) -> None:
        """First in each turn of ``follow``."""

    async def _after_events(self) -> list[asyncio.Task[Any]] | None:
        """After the timed events: start what the case's stage calls for. The tasks whose end
        wakes ``follow``, or None: the case is done."""
        raise NotImplementedError

    async def _closing(self) -> None:
        """The case is done: what the kind still waits for before it answers."""

    async def _recount(self) -> None:
        """Under the lock, before the write: the deadlines counted again."""
        raise NotImplementedError

    async def _calendar_changed(self) -> None:
        """Under the lock: the deadlines on the calendar now in force, a move on the record."""
        raise NotImplementedError

    def _reverify(self) -> None:
        """Once written: the verification platform is asked again."""
        raise NotImplementedError

    async def _once_held(self) -> Any:
        """The answer once the reserve hold of the payment under way is known."""
        raise NotImplementedError


def reads(view: type, case: type) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """A case workflow's two queries, typed with the kind's view and rules (a client decodes
    the answer by the query's return type)."""

    @workflow.query
    def current(self) -> view:  # type: ignore[valid-type]
        """The case as last written to the records: a read never runs ahead of the audit trail."""
        return self.work.recorded

    @workflow.query
    def state(self) -> case:  # type: ignore[valid-type]
        """Everything the case's rules know: a halted case is restarted from it."""
        return self.case

    return current, state
