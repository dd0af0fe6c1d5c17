"""Deadline reminders and breaches (站内通知): a caseworker's own cases' notices; the district
and the township leaders see all those of their jurisdiction."""

from domain.cases import Actor, Role
from domain.privacy import for_role
from store import lists
from store.db import Database
from store.tables import StaffNotification

OVERSEERS = (
    Role.district_officer,
    Role.supervisor,
    Role.auditor,
    Role.admin,
    Role.township_approver,
)


async def for_user(*, db: Database, user: Actor, limit: int) -> list[StaffNotification]:
    """The newest notices the user sees, numbers in them masked unless the user's role sees
    them in full. A case outside the user's jurisdiction (they moved, say) is never shown."""
    notices = await db.read(
        lists.notifications,
        jurisdiction=user.jurisdiction,
        assignee=None if user.role in OVERSEERS else user.user_id,
        limit=limit,
    )
    return [
        StaffNotification(**(n.model_dump() | {"message": for_role(user.role, n.message)}))
        for n in notices
    ]
