"""Who sees an applicant's personal numbers in full, and how they are masked for everyone else.

ID-card numbers (身份证号), mobile numbers and bank accounts appear in full only to the roles
that work the case with the family: they check the ID card at the window, phone the family,
visit the household. Overseers (督办专班, auditors) and administrators see them masked, in
every view, list, audit note and decoded payload; logs never hold them in full.
A bank account is shown to nobody in full: the payment system is its only reader.
"""

import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from domain.cases import Role
from domain.identity import mask_id_number, mask_phone

FULL_VIEW_ROLES = frozenset(
    {
        Role.village_coordinator,
        Role.township_assistant,
        Role.township_approver,
        Role.district_officer,
    }
)
"""The one place that says who sees ID and phone numbers in full."""

ID_NUMBER = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9A-Za-z])")
PHONE = re.compile(r"(?<![0-9])1[3-9][0-9]{9}(?![0-9])")
ACCOUNT = re.compile(r"(?<![0-9])[0-9]{13,30}(?![0-9])")
"""By shape, a run of 13 to 30 digits (bank cards have 16 to 19): a shorter account is masked
where it is a known field. Twelve digits and fewer are villages' and townships' codes."""

SENSITIVE_KEYS = {
    "id_number": mask_id_number,
    "applicant_id_number": mask_id_number,
    "payee_id_number": mask_id_number,
    "phone": mask_phone,
    "applicant_phone": mask_phone,
    "account_no": lambda value: mask_account(value),
}
"""Fields masked whatever their shape (a key of a log event or of a decoded payload)."""


def sees_in_full(role: Role | str) -> bool:
    return role in FULL_VIEW_ROLES


def mask_account(account_no: str) -> str:
    """The last four digits only."""
    return f"****{account_no[-4:]}"


def redact(text: str) -> str:
    """``text`` with every ID, mobile and account number in it masked."""
    if not any(c.isdigit() for c in text):
        return text  # the common case, cheaply
    text = ID_NUMBER.sub(lambda m: mask_id_number(m.group().upper()), text)
    text = PHONE.sub(lambda m: mask_phone(m.group()), text)
    return ACCOUNT.sub(lambda m: mask_account(m.group()), text)


def redact_value(value: Any) -> Any:
    """Strings within ``value`` (nested dicts, lists, tuples) redacted; a field named as
    personal masked whole.

    Walked with a stack of its own, not by recursion: a value nested however deep (a hostile
    payload, say) is redacted like any other, never a ``RecursionError``."""
    if not _nests(value):
        return _redacted(None, value)
    # Each container being read: its items still to read, those redacted so far, the
    # container (rebuilt as its own type) and its key in the one holding it.
    reading: list[tuple[Iterator[tuple[Any, Any]], list[tuple[Any, Any]], Any, Any]] = [
        (_items(value), [], value, None)
    ]
    within = {id(value)}  # a container holding itself would never end
    while True:
        items, done, container, key_in_parent = reading[-1]
        for key, item in items:
            if _nests(item) and id(item) not in within:
                reading.append((_items(item), [], item, key))
                within.add(id(item))
                break
            done.append((key, "…" if _nests(item) else _redacted(key, item)))
        else:
            reading.pop()
            within.discard(id(container))
            rebuilt = _rebuilt(container, done)
            if not reading:
                return rebuilt
            reading[-1][1].append((key_in_parent, rebuilt))


def _nests(value: Any) -> bool:
    return isinstance(value, Mapping | list | tuple)


def _items(value: Mapping | list | tuple) -> Iterator[tuple[Any, Any]]:
    """(key, item) of a mapping; (None, item) of a sequence."""
    return iter(value.items()) if isinstance(value, Mapping) else ((None, v) for v in value)


def _rebuilt(container: Mapping | list | tuple, done: list[tuple[Any, Any]]) -> Any:
    if isinstance(container, Mapping):
        return dict(done)
    return type(container)(item for _, item in done)


def _mask_of(key: Any) -> Callable[[str], str] | None:
    return SENSITIVE_KEYS.get(key) if isinstance(key, str) else None


def _redacted(key: Any, value: Any) -> Any:
    """A value that holds no other: masked whole under a personal field's name, else its
    numbers masked if it is text."""
    mask = _mask_of(key)
    if mask is not None and isinstance(value, str) and len(value) >= 4:
        return mask(value)
    return redact(value) if isinstance(value, str) else value


def for_role(role: Role | str, text: str) -> str:
    """Free text (a reason, a finding, an audit note) as ``role`` may read it."""
    return text if sees_in_full(role) else redact(text)


def id_number_for(role: Role | str, id_number: str) -> str:
    return id_number if sees_in_full(role) else mask_id_number(id_number)


def phone_for(role: Role | str, phone: str) -> str:
    return phone if sees_in_full(role) else mask_phone(phone)
