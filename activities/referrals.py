"""Activities of the referrals from other departments: a referral's reminder or breach on its
record and in its township's notifications."""

from datetime import UTC, datetime

import structlog
from temporalio import activity

from domain.contracts import Activity
from domain.referrals import ReferralAlarm
from store import referrals
from store.db import Database

log = structlog.get_logger()


class ReferralActivities:
    def __init__(self, *, database_url: str) -> None:
        self.db = Database(database_url)

    @activity.defn(name=Activity.referral_event)
    async def referral_event(self, alarm: ReferralAlarm) -> bool:
        """Recorded once (keyed), only while the referral is open: whether it is."""
        still_open = await self.db.write(
            referrals.fire_event, referral_no=alarm.referral_no, kind=alarm.kind,
            key=alarm.key, at=datetime.now(UTC),
        )  # fmt: skip
        log.info("referral.event", case_no=alarm.referral_no, kind=alarm.kind, open=still_open)
        return still_open
