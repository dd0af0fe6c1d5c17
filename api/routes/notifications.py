"""/notifications: deadline reminders and breaches (站内通知) for you or your jurisdiction."""

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import DatabaseDep
from api.models import NotificationPublic
from api.permissions import READ_NOTIFICATIONS, PermittedRoute, permit
from domain.cases import Actor
from services import notifications

router = APIRouter(prefix="/notifications", tags=["notifications"], route_class=PermittedRoute)


@router.get("", response_model=list[NotificationPublic])
async def list_notifications(
    db: DatabaseDep,
    user: Actor = permit(READ_NOTIFICATIONS),
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[NotificationPublic]:
    """Your own cases' notices; the district and township leaders see all in their jurisdiction.
    A case outside your jurisdiction (you moved, say) is never shown."""
    notices = await notifications.for_user(db=db, user=user, limit=limit)
    return [NotificationPublic.model_validate(n) for n in notices]
