"""/notifications: deadline reminders and breaches (站内通知) for you or your jurisdiction."""

from typing import Annotated

from fastapi import APIRouter, Query
from sqlmodel import select

from api.cases import in_jurisdiction
from api.deps import SessionDep
from api.models import NotificationPublic
from api.permissions import READ_NOTIFICATIONS, PermittedRoute, permit
from domain.cases import Actor, Role
from domain.privacy import for_role
from store.tables import StaffNotification

router = APIRouter(prefix="/notifications", tags=["notifications"], route_class=PermittedRoute)

OVERSEERS = (
    Role.district_officer,
    Role.supervisor,
    Role.auditor,
    Role.admin,
    Role.township_approver,
)


@router.get("", response_model=list[NotificationPublic])
def list_notifications(
    session: SessionDep,
    user: Actor = permit(READ_NOTIFICATIONS),
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[NotificationPublic]:
    """Your own cases' notices; the district and township leaders see all in their jurisdiction.
    A case outside your jurisdiction (you moved, say) is never shown."""
    query = in_jurisdiction(select(StaffNotification), StaffNotification, user=user)
    if user.role not in OVERSEERS:
        query = query.where(StaffNotification.assignee == user.user_id)
    rows = session.exec(query.order_by(StaffNotification.at.desc()).limit(limit))
    notices = [NotificationPublic.model_validate(n) for n in rows]
    return [n.model_copy(update={"message": for_role(user.role, n.message)}) for n in notices]
