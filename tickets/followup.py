"""三级回访: asking the citizen whether they are satisfied, and escalating.

1. **Reply → SMS.** When a ticket is replied to (bus handler :func:`on_reply`, same
   transaction), a :class:`FollowUp` at the ticket's escalation level is opened
   and an SMS asks 满意 / 基本满意 / 不满意 ("回复1满意，2基本满意，3不满意"),
   naming the ticket number. A ticket without a phone number gets a phone
   follow-up task for the platform office at once.
2. **Answer in** (:func:`handle_inbound`, behind ``POST /api/v1/sms/inbound``):
   the phone is matched to the newest open follow-up that was asked by SMS to
   that number. 满意/基本满意 close the ticket. 不满意 escalates:

   - level 1 → 2: the ticket is redone (``lifecycle.redo(level=2)``, a new
     resolve deadline), the unit's heads and its supervising department (the
     level-2 unit above it and the platform office) are notified, and the unit
     gets a reminder letter (提醒函, reason ``unsatisfied``). After the new reply
     the citizen is asked again.
   - level 2 → 3: redone at level 3; the city bureau's leaders, the unit's
     heads, the supervision units (督察、法制、信访) and the platform office are
     notified; another reminder letter.
   - level 3: the citizen is asked once more after the level-3 reply, and
     whatever the answer (or none), the ticket is **closed with findings** by a
     supervisor or the platform office (:func:`close_with_findings`), which
     records the findings in the timeline (a ``findings`` event, then ``close``
     with the findings as its note). The answer is recorded and counted in the
     satisfaction rate; it closes nothing by itself.

   Anything unparseable gets one polite re-ask; the next unparseable reply makes
   the follow-up ``needs_person`` (platform office notified, the citizen told a
   person will call). A late valid answer is still taken. An unknown number is
   recorded and otherwise ignored (nothing is sent back to it).
3. **No answer** within ``FollowUpRules.no_answer_hours`` (48): :func:`sweep` turns the SMS
   follow-up into a phone follow-up task (a new FollowUp, method ``phone``) for
   the platform office; staff record what the citizen said with
   :func:`record_phone_answer`.

Every answered follow-up records exactly one ``follow_up_answered`` event
(``data.answer``), which the live figures count; notifications record their
own events (``escalated``, ``follow_up_phone_task``, ``follow_up_needs_person``,
``findings_due``), so everything reaches the screens through the outbox.

**SMS gateways** are in ``tickets.sms``; a deferred gateway's queued messages
are sent after commit by :func:`deliver_queued` (run by ``housekeeping``).
"""
from __future__ import annotations

import logging
import re
import unicodedata
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session, sessionmaker

from tickets import lifecycle, notify, supervision
from tickets.errors import IllegalStep, Invalid
from tickets.events import record_event
from tickets.figures import SATISFIED_ANSWERS
from tickets.lifecycle import aware, required
from tickets.models import FollowUp, SmsMessage, Ticket, TicketEvent
from tickets.roles import SYSTEM, Actor, check
from tickets.sms import SmsGateway, mask_phone, normalise_phone, post
from tickets.uow import UnitOfWork, unit_of_work

log = logging.getLogger(__name__)

ANSWERS = {"satisfied": "满意", "basically_satisfied": "基本满意", "unsatisfied": "不满意"}
SATISFIED = SATISFIED_ANSWERS  # the figures' 满意 + 基本满意
# Follow-ups a reply can still settle: asked, turned into a phone task, or waiting for a person.
OPEN_STATUSES = ("waiting", "no_answer", "needs_person")
TOP_LEVEL = 3


# ------------------------------------------------------------------ texts
def _bureau(ticket: Ticket) -> str:
    unit = ticket.unit
    return notify.root_unit(unit).name if unit is not None else "民生警务平台"


def ask_text(ticket: Ticket) -> str:
    done = "重新办理并答复" if (ticket.escalation_level or 1) > 1 else "办理并答复"
    return (f"【{_bureau(ticket)}】您好，您反映的问题（工单号{ticket.number}）已{done}。"
            f"请对办理结果进行评价：回复1满意，2基本满意，3不满意。")


def re_ask_text(ticket: Ticket) -> str:
    return (f"【{_bureau(ticket)}】抱歉，未能识别您的回复。请直接回复数字：1满意，2基本满意，3不满意"
            f"（工单号{ticket.number}）。")


def person_text(ticket: Ticket) -> str:
    return f"【{_bureau(ticket)}】感谢您的回复，工作人员将尽快与您电话联系（工单号{ticket.number}）。"


# ------------------------------------------------------------------ parsing
_DIGITS = {"1": "satisfied", "2": "basically_satisfied", "3": "unsatisfied",
           "一": "satisfied", "二": "basically_satisfied", "三": "unsatisfied"}
_NEGATIONS = ("不", "没", "未")
_PARTLY = ("基本", "比较", "还算", "一般", "还行", "尚")


def _clean(text: str) -> str:
    """NFKC (full-width digits and punctuation), without spaces, punctuation or symbols."""
    text = unicodedata.normalize("NFKC", text or "")
    return "".join(ch for ch in text if unicodedata.category(ch)[0] not in ("P", "S", "Z", "C")).lower()


def _word_answer(text: str) -> str | None:
    at = text.find("满意")
    if at < 0:
        return "unsatisfied" if "不满" in text else None
    before = text[max(0, at - 4):at]
    if any(n in before for n in _NEGATIONS):  # 不满意, 不太满意, 不是很满意, 非常不满意 (非常 is not a negation)
        return "unsatisfied"
    if any(p in before for p in _PARTLY):
        return "basically_satisfied"
    return "satisfied"


def parse_answer(text: str | None) -> str | None:
    """'1'/'２'/'3', 满意/基本满意/不满意 (and 不太满意, 非常满意 …) → the answer's code, else None.

    A leading digit decides ("1谢谢"), unless words after it contradict it ("1不满意");
    a longer number ("12", a phone number) is not an answer.
    """
    s = _clean(text or "")
    if not s:
        return None
    if s in _DIGITS:
        return _DIGITS[s]
    match = re.fullmatch(r"([123])(\D.*)", s)
    if match:
        digit, words = _DIGITS[match.group(1)], _word_answer(match.group(2))
        return digit if words in (None, digit) else None
    if s[0].isdigit():
        return None
    return _word_answer(s)


# ----------------------------------------------------------------------- SMS
def send_sms(session: UnitOfWork, phone: str, text: str, at: datetime, *, ticket: Ticket | None = None,
             follow_up: FollowUp | None = None) -> SmsMessage:
    """Record (and for an immediate gateway, send) one SMS in this transaction; never raises."""
    gw = session.config.follow_up.gateway
    message = SmsMessage(direction="out", phone=normalise_phone(phone), text=text, at=at, gateway=gw.name,
                         status="queued", ticket_id=ticket.id if ticket else None,
                         follow_up_id=follow_up.id if follow_up else None)
    post(gw, message)
    session.add(message)
    return message


def deliver_queued(factory: sessionmaker[UnitOfWork], now: datetime | None = None, *,
                   gateway: SmsGateway | None = None, limit: int = 200) -> dict[str, int]:
    """Send queued (and retry failed) SMS through a deferred gateway: those of open follow-ups,
    and those to officials (``tickets.official_sms``; a held one is queued when its time comes).

    Reads, sends outside any transaction, then records the statuses. The first
    failure ends the round (the gateway is probably down); the rest waits for
    the next round. At-least-once: a crash between send and record resends.
    """
    with factory() as session:
        gw = gateway or session.config.follow_up.gateway
        if not gw.deferred:
            return {"sent": 0, "failed": 0}
        rows = session.execute(
            select(SmsMessage.id, SmsMessage.phone, SmsMessage.text)
            .outerjoin(FollowUp, FollowUp.id == SmsMessage.follow_up_id)
            .outerjoin(Ticket, Ticket.id == FollowUp.ticket_id)
            .where(SmsMessage.direction == "out", SmsMessage.status.in_(("queued", "failed")),
                   or_(and_(Ticket.status == "replied", FollowUp.status.in_(OPEN_STATUSES)),
                       SmsMessage.user_id.is_not(None)))
            .order_by(SmsMessage.id).limit(limit)
        ).all()
    results: dict[int, str] = {}
    for message_id, phone, text in rows:
        try:
            gw.send(phone, text)
            results[message_id] = "sent"
        except Exception as exc:  # noqa: BLE001
            results[message_id] = "failed"
            log.warning("SMS %d to %s failed, will retry: %s", message_id, mask_phone(phone), exc)
            break
    if results:
        with unit_of_work(factory) as session:
            for message_id, status in results.items():
                message = session.get(SmsMessage, message_id)
                if message is not None:
                    message.status = status
    sent = sum(1 for s in results.values() if s == "sent")
    return {"sent": sent, "failed": len(results) - sent}


# --------------------------------------------------------------- follow-ups
def open_follow_ups(session: Session, ticket: Ticket) -> list[FollowUp]:
    return list(session.scalars(
        select(FollowUp).where(FollowUp.ticket_id == ticket.id, FollowUp.status.in_(OPEN_STATUSES))
        .order_by(FollowUp.id)
    ))


def _phone_task(session: UnitOfWork, ticket: Ticket, level: int, at: datetime, reason: str) -> FollowUp:
    task = FollowUp(ticket_id=ticket.id, level=level, method="phone", status="waiting", asked_at=at)
    session.add(task)
    session.flush()
    hours = session.config.follow_up.no_answer_hours
    why = {"no_phone": "群众未留手机号码", "no_answer": f"短信回访{hours:g}小时未回复"}[reason]
    notify.notify(session, ticket, [notify.office(session)], "follow_up_phone_task",
                  f"工单{ticket.number}需电话回访（{level}级回访）：{why}。", at,
                  data={"level": level, "reason": reason, "follow_up_id": task.id})
    return task


def start_follow_up(session: UnitOfWork, ticket: Ticket, at: datetime) -> FollowUp:
    """Open this round's follow-up: an SMS, or a phone task without a usable number."""
    level = ticket.escalation_level or 1
    for earlier in open_follow_ups(session, ticket):
        earlier.status = "cancelled"  # superseded by this reply's round
    phone = normalise_phone(ticket.citizen_phone)
    if len(phone) < 7:
        return _phone_task(session, ticket, level, at, "no_phone")
    follow_up = FollowUp(ticket_id=ticket.id, level=level, method="sms", status="waiting", asked_at=at)
    session.add(follow_up)
    session.flush()
    send_sms(session, phone, ask_text(ticket), at, ticket=ticket, follow_up=follow_up)
    return follow_up


def on_reply(session: UnitOfWork, ticket: Ticket, event: TicketEvent) -> None:
    start_follow_up(session, ticket, event.at)


def on_close(session: UnitOfWork, ticket: Ticket, event: TicketEvent) -> None:
    for follow_up in open_follow_ups(session, ticket):
        follow_up.status = "cancelled"


def _match(session: Session, phone: str) -> FollowUp | None:
    """The newest open follow-up asked by SMS to ``phone`` (sms_messages.phone is indexed)."""
    asked = session.scalars(
        select(SmsMessage.follow_up_id).where(
            SmsMessage.phone == phone, SmsMessage.direction == "out", SmsMessage.follow_up_id.is_not(None))
        .order_by(SmsMessage.id.desc()).limit(50)
    ).all()
    seen: set[int] = set()
    for follow_up_id in asked:
        if follow_up_id is None or follow_up_id in seen:
            continue
        seen.add(follow_up_id)
        follow_up = session.get(FollowUp, follow_up_id)
        if follow_up is not None and follow_up.status in OPEN_STATUSES and follow_up.ticket.status == "replied":
            return follow_up
    return None


def handle_inbound(session: UnitOfWork, phone: str, text: str, at: datetime) -> str:
    """Take a citizen's SMS reply; returns what happened:

    ``closed`` | ``escalated_to_2`` | ``escalated_to_3`` | ``findings_due`` (level 3) |
    ``re_asked`` | ``needs_person`` | ``no_follow_up`` (a known number with nothing to
    answer) | ``unknown_phone``.
    """
    aware(at, "inbound_sms")
    cfg = session.config.follow_up
    number = normalise_phone(phone)[:20]
    text = (text or "")[:1000]
    message = SmsMessage(direction="in", phone=number, text=text, at=at, gateway=cfg.gateway.name, status="received")
    session.add(message)
    follow_up = _match(session, number) if number else None
    if follow_up is None:
        known = number and session.scalar(select(SmsMessage.id).where(
            SmsMessage.phone == number, SmsMessage.direction == "out").limit(1))
        message.status = "no_follow_up" if known else "unknown_phone"
        log.info("inbound SMS from %s: %s", mask_phone(number), message.status)
        return message.status
    ticket = follow_up.ticket
    message.ticket_id, message.follow_up_id = ticket.id, follow_up.id
    at = max(at, follow_up.asked_at)  # a gateway clock behind ours must not put the answer before the question
    answer = parse_answer(text)
    if answer is None:
        outcome = _unparseable(session, follow_up, text, at)
    else:
        outcome = _answer(session, follow_up, answer, at, raw=text, actor=SYSTEM, method="sms")
    message.status = outcome  # every outcome fits sms_messages.status (16)
    log.info("inbound SMS from %s on 工单 %s: %s", mask_phone(number), ticket.number, outcome)
    return outcome


def _unparseable(session: UnitOfWork, follow_up: FollowUp, text: str, at: datetime) -> str:
    ticket = follow_up.ticket
    follow_up.raw_reply = text
    if follow_up.status == "needs_person":
        return "needs_person"  # already with a person; nothing more to send
    if (follow_up.re_asked or 0) < session.config.follow_up.re_asks:
        follow_up.re_asked = (follow_up.re_asked or 0) + 1
        send_sms(session, normalise_phone(ticket.citizen_phone) or _last_phone(session, follow_up),
                 re_ask_text(ticket), at, ticket=ticket, follow_up=follow_up)
        return "re_asked"
    follow_up.status = "needs_person"
    notify.notify(session, ticket, [notify.office(session)], "follow_up_needs_person",
                  f"工单{ticket.number}的{follow_up.level}级回访短信回复无法识别，请人工电话回访。", at,
                  data={"level": follow_up.level, "follow_up_id": follow_up.id})
    send_sms(session, normalise_phone(ticket.citizen_phone) or _last_phone(session, follow_up),
             person_text(ticket), at, ticket=ticket, follow_up=follow_up)
    return "needs_person"


def _last_phone(session: Session, follow_up: FollowUp) -> str:
    return session.scalar(select(SmsMessage.phone).where(SmsMessage.follow_up_id == follow_up.id)
                          .order_by(SmsMessage.id.desc()).limit(1)) or ""


def _answer(session: UnitOfWork, follow_up: FollowUp, answer: str, at: datetime, *,
            raw: str | None, actor: Actor, method: str) -> str:
    ticket = follow_up.ticket
    follow_up.status, follow_up.answer, follow_up.answered_at = "answered", answer, at
    if raw is not None:
        follow_up.raw_reply = raw
    for other in open_follow_ups(session, ticket):
        if other.id != follow_up.id:
            other.status = "cancelled"  # e.g. the phone task of an SMS answered late
    ticket.satisfaction = answer
    ticket.follow_ups_answered = (ticket.follow_ups_answered or 0) + 1
    ticket.follow_ups_satisfied = (ticket.follow_ups_satisfied or 0) + int(answer in SATISFIED)
    level = ticket.escalation_level or 1
    record_event(session, ticket, "follow_up_answered", at, actor=actor.name, actor_id=actor.user_id, note=raw,
                 data={"answer": answer, "level": level, "method": method, "follow_up_id": follow_up.id})
    if level >= TOP_LEVEL:
        unit = ticket.unit
        assert unit is not None
        recipients = notify.supervision_units(session, unit) + [notify.office(session)]
        notify.notify(session, ticket, recipients, "findings_due",
                      f"工单{ticket.number}三级回访结果：{ANSWERS[answer]}。请督察、法制、信访及平台办调查后出具结论办结。",
                      at, data={"level": level, "answer": answer})
        return "findings_due"
    if answer in SATISFIED:
        lifecycle.close(session, ticket, at, SYSTEM, note=f"{level}级回访：{ANSWERS[answer]}")
        return "closed"
    escalate(session, ticket, at, level + 1)
    return f"escalated_to_{level + 1}"


def escalate(session: UnitOfWork, ticket: Ticket, at: datetime, level: int) -> None:
    """不满意: redo at ``level`` (2 or 3), tell the people of that level, send a reminder letter."""
    unit = ticket.unit
    if unit is None:
        raise IllegalStep("no_unit_yet", number=ticket.number)
    tz = session.config.tz
    lifecycle.redo(session, ticket, at, level=level, actor=SYSTEM, note=f"群众不满意，升级为{level}级回访并重新办理")
    heads = notify.unit_heads(session, unit)
    if level == 2:
        recipients = heads + notify.supervising_departments(session, unit)
    else:
        recipients = (notify.city_leaders(session, unit) + heads + notify.supervision_units(session, unit)
                      + [notify.office(session)])
    due = ticket.resolve_due_at.astimezone(tz).strftime("%m-%d %H:%M") if ticket.resolve_due_at else "—"
    text = (f"工单{ticket.number}（{unit.name}办理）群众回访不满意，已升级为{level}级回访并重新办理，"
            f"新办理时限{due}。")
    notify.notify(session, ticket, recipients, "escalated", text, at, data={"level": level, "unit_code": unit.code})
    supervision.issue_reminder_letter(
        session, unit, at, reason="unsatisfied", ticket=ticket,
        text=f"工单{ticket.number}群众回访不满意（{level - 1}级回访），已重新办理，请单位负责人督促落实，切实解决群众诉求。",
    )


def close_with_findings(session: UnitOfWork, ticket: Ticket, at: datetime, actor: Actor,
                        findings: str | None) -> None:
    """办结 a level-3 ticket with the supervisors' findings (调查结论), after its level-3 reply.

    Whatever the citizen answered, or if they never did: the findings are the
    conclusion. Roles: those who may ``close`` by hand (admin, supervisor).
    """
    if (ticket.escalation_level or 1) < TOP_LEVEL:
        raise IllegalStep("findings_level", number=ticket.number, level=ticket.escalation_level or 1)
    if ticket.status != "replied":
        raise IllegalStep("status_forbids_step", number=ticket.number, step="close_with_findings",
                          status=ticket.status, allowed=["replied"])
    findings = required(findings, "findings", ticket.number)
    check(actor, "close", ticket.unit_id)
    record_event(session, ticket, "findings", at, actor=actor.name, actor_id=actor.user_id, note=findings,
                 data={"level": ticket.escalation_level})
    lifecycle.close(session, ticket, at, actor, note=findings)


def sweep(session: UnitOfWork, now: datetime) -> dict[str, int]:
    """SMS follow-ups unanswered for ``no_answer_hours`` become phone follow-up tasks."""
    cutoff = now - timedelta(hours=session.config.follow_up.no_answer_hours)
    stale = session.scalars(
        select(FollowUp).join(Ticket, Ticket.id == FollowUp.ticket_id).where(
            Ticket.status == "replied", FollowUp.method == "sms", FollowUp.status == "waiting",
            FollowUp.asked_at <= cutoff)
        .order_by(FollowUp.id)
    ).all()
    for follow_up in stale:
        follow_up.status = "no_answer"
        _phone_task(session, follow_up.ticket, follow_up.level, now, "no_answer")
    return {"phone_tasks": len(stale)}


def record_phone_answer(session: UnitOfWork, follow_up: FollowUp, answer: str, at: datetime, actor: Actor) -> str:
    """Staff (admin, dispatcher) record what the citizen said on the phone; same outcomes as SMS."""
    ticket = follow_up.ticket
    check(actor, "record_follow_up", ticket.unit_id)
    aware(at, "answer")
    code = answer if answer in ANSWERS else parse_answer(answer)
    if code is None:
        raise Invalid("answer_unknown", number=ticket.number, answer=answer, known=sorted(ANSWERS))
    if follow_up.status not in OPEN_STATUSES or ticket.status != "replied":
        raise IllegalStep("nothing_to_answer", number=ticket.number, follow_up=follow_up.status,
                          status=ticket.status)
    return _answer(session, follow_up, code, max(at, follow_up.asked_at), raw=None, actor=actor, method="phone")
