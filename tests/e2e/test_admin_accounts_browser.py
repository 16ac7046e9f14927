"""/admin's accounts and audit log, clicked through in Chromium as the platform office's admin on
PostgreSQL + Redis: a new account made by clicks logs in with the password shown once;
deactivating it sends that user's open page to the login; the last active admin can be neither
deactivated nor demoted; the audit page lists those changes with the actor and says the chain
is intact; a supervisor sees the sections without a form or a button, and the API refuses them."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select

from tests.helpers import browser_login, wait_until
from tests.servers import PlatformProcess
from tickets.bootstrap import session_factory
from tickets.models import AuditEntry, User

NEW = {"username": "wangwu", "real_name": "王五", "police_number": "104002"}


def _user(platform: PlatformProcess, username: str) -> User | None:
    with session_factory(platform.database_url)() as s:
        return s.scalar(select(User).where(User.username == username))


def _message(page: Any) -> str:
    """What the page said after the last click (then cleared: the next one says its own)."""
    page.wait_for_function("() => (document.getElementById('admin-message') || {}).textContent")
    text: str = page.text_content("#admin-message")
    page.evaluate("document.getElementById('admin-message').textContent = ''")
    return text


def _open(page: Any, username: str) -> str:
    """Open the row's 管理 (unless it is open) and return the row's selector."""
    row = f"#admin-user-{username}"
    if page.get_attribute(f"{row} details", "open") is None:
        page.click(f"{row} summary")
    return row


def _manage(page: Any, username: str, button: str) -> None:
    """Click the row's ``button`` (a class) under 管理, confirming its question."""
    page.click(f"{_open(page, username)} button.{button}")
    page.click("#admin-dialog-ok")


def test_an_admin_creates_edits_and_deactivates_accounts_by_clicks(browser: Any,
                                                                    admin_platform: PlatformProcess) -> None:
    base = admin_platform.base_url
    admin = browser_login(browser, base, "admin", next_path="/admin")
    admin.click("#admin-tabs >> text=账号管理")
    admin.wait_for_selector("#admin-accounts-new")
    form = "#admin-accounts-new form"
    for name, value in NEW.items():
        admin.fill(f"{form} [name={name}]", value)
    admin.select_option(f"{form} [name=unit]", "JN-TQ-01")
    admin.select_option(f"{form} [name=role]", "handler")
    admin.click(f"{form} button[type=submit]")
    admin.wait_for_selector("#admin-once-value", timeout=30_000)  # a scrypt hash on a busy machine
    password = admin.input_value("#admin-once-value")
    assert _message(admin) == "已保存"
    admin.click("#admin-once-close")
    assert len(password) >= 12
    admin.wait_for_selector("#admin-user-wangwu")
    assert "王五" in admin.text_content("#admin-user-wangwu") and "泺口派出所" in admin.text_content("#admin-user-wangwu")
    created = _user(admin_platform, "wangwu")
    assert created is not None and created.password_hash and password not in created.password_hash

    officer = browser_login(browser, base, "wangwu", password, next_path="/desk")
    assert officer.url.startswith(base + "/desk"), officer.url
    officer.wait_for_selector(".work-who")
    assert "王五" in officer.text_content(".work-who")

    # Deactivating ends the officer's open session: their desk's socket is dropped at once, the
    # page asks again and lands on the login (a wall would say its grant is gone).
    _manage(admin, "wangwu", "admin-deactivate")
    assert "已结束登录会话 1 个" in _message(admin)
    # At once by the announcement; at worst by the next sweep of sockets (5 s) and the grant cache.
    officer.wait_for_url(f"{base}/login**", timeout=30_000)
    admin.wait_for_selector("#admin-user-wangwu.admin-muted")  # the section shown again: 已停用
    deactivated = _user(admin_platform, "wangwu")
    assert deactivated is not None and not deactivated.active

    # The last active admin: neither deactivated nor demoted.
    _manage(admin, "admin", "admin-deactivate")
    assert "最后一个在用的管理员" in _message(admin)
    _open(admin, "admin")
    admin.select_option("#admin-user-admin form.admin-edit [name=role]", "dispatcher")
    admin.click("#admin-user-admin form.admin-edit button[type=submit]")
    assert "最后一个在用的管理员" in _message(admin)
    still = _user(admin_platform, "admin")
    assert still is not None and still.active and still.role == "admin"

    # The audit page: each change once, with its actor; the chain intact.
    admin.goto(f"{base}/admin/audit?actor=admin")
    admin.wait_for_selector("#admin-audit-table")
    table = admin.text_content("#admin-audit-table")
    assert table.count("创建账号") == 1 and table.count("停用账号") == 1
    assert admin.text_content("#admin-audit-chain").startswith("哈希链完整")
    with session_factory(admin_platform.database_url)() as s:
        actions = list(s.scalars(select(AuditEntry.action).where(AuditEntry.actor == "admin",
                                                                 AuditEntry.target == "wangwu")))
    assert actions == ["user_create", "user_deactivate"]

    # A past row edited in the database: the page says where the chain breaks.
    with session_factory(admin_platform.database_url)() as s:
        first = s.scalar(select(AuditEntry).where(AuditEntry.target == "wangwu").order_by(AuditEntry.id))
        assert first is not None
        first.details = {**first.details, "role": "admin"}
        s.commit()
        edited = first.id
    admin.reload()
    admin.wait_for_selector("#admin-audit-chain.admin-chain-broken")
    assert f"在第 {edited} 条处断裂" in admin.text_content("#admin-audit-chain")
    admin.context.close()
    officer.context.close()


def test_a_supervisor_reads_the_office_pages_without_changing_anything(browser: Any,
                                                                      admin_platform: PlatformProcess) -> None:
    base = admin_platform.base_url
    page = browser_login(browser, base, "supervisor", next_path="/admin/accounts")
    page.wait_for_selector("#admin-accounts-table")
    assert page.query_selector(".admin-read-only") is not None
    assert page.query_selector("#admin-accounts-new") is None and page.query_selector("[data-admin-post]") is None
    assert "平台管理" in page.text_content(".work-nav")
    answer = page.evaluate("""() => MinshengSteps.post('/api/v1/admin/accounts/users/handler/deactivate', {}, 'zh-CN')
                              .then(a => a.status)""")
    assert answer == 403
    wait_until(lambda: (u := _user(admin_platform, "handler")) is not None and u.active, what="handler still active")
    for section, shown in (("walls", "#admin-walls-new"), ("feeds", "#admin-feeds-hotline"),
                           ("audit", "#admin-audit-table")):
        page.goto(f"{base}/admin/{section}")
        page.wait_for_selector(f"#admin-section.admin-{section}")
        assert page.query_selector("[data-admin-post]") is None and (section == "walls") == (
            page.query_selector(shown) is None), section
    page.goto(f"{base}/admin")
    page.wait_for_selector("#admin-card-accounts")
    cards = {c: page.text_content(f"#admin-card-{c}") for c in ("accounts", "walls", "feeds", "audit")}
    assert "在用账号" in cards["accounts"] and "大屏链接" in cards["walls"] and "有效密钥" in cards["feeds"], cards
    page.context.close()
