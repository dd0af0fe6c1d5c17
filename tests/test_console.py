"""The web console in a real browser (Debian's chromium, driven by Playwright) against the real
stack: a supervisor finds a case whose verification the platform refused and moves it on;
without a session nothing is shown; a form without its token is refused; a case of another
township is not found; text from the records shows as text; every page fits a phone's width.
A screenshot of every page, at both sizes, goes to test-artifacts/console/ (not committed)."""

import asyncio
import re
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from oidc_provider_mock import User, run_server_in_thread
from playwright.async_api import Browser, BrowserContext, Page, async_playwright
from temporalio.client import Client

from api.main import create_app
from domain.cases import Actor, Role
from domain.identity import mask_id_number
from stack import temporal_dev_server_command, wait_for_port
from tests.helpers import actors
from tests.helpers.actors import ASSISTANT
from tests.helpers.api import application, emergency, survey
from tests.helpers.people import id_number
from tests.helpers.servers import free_port, serve
from tests.helpers.stack import CONVERTER, running_stack, stack_settings
from worker import create_worker
from workflows.client import application_workflow_id

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).parent.parent / "test-artifacts" / "console"
SIZES = {"desktop": (1280, 800), "phone": (390, 844)}
AWAY_ASSISTANT = Actor(
    user_id="u-away", name="孙助理", role=Role.township_assistant, jurisdiction="370305002"
)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    assert Path(CHROMIUM).exists(), (
        "the browser tests need Debian's chromium: as root, `apt-get install chromium` "
        "(make test does it)"
    )
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM)
        yield launched
        await launched.close()


async def look(page: Page, name: str) -> None:
    """The page at a desktop's and a phone's size: the body never scrolls sideways; a
    screenshot of each."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for size, (width, height) in SIZES.items():
        await page.set_viewport_size({"width": width, "height": height})
        fits = await page.evaluate(
            "document.body.scrollWidth <= window.innerWidth"
            " && document.documentElement.scrollWidth <= window.innerWidth"
        )
        await page.screenshot(path=ARTIFACTS / f"{name}-{size}.png", full_page=True)
        assert fits, f"{name} scrolls sideways at {width}×{height}"
    await page.set_viewport_size({"width": 1280, "height": 800})


async def sign_in(browser: Browser, url: str, role: str, jurisdiction: str, name: str) -> Page:
    page = await (await browser.new_context()).new_page()
    await page.goto(f"{url}/console/")
    assert re.search(r"/console/sign-in\?next=/console/$", page.url)
    await look(page, "sign-in")
    await page.select_option("select[name=role]", role)
    await page.fill("input[name=jurisdiction]", jurisdiction)
    await page.fill("input[name=name]", name)
    await page.click("form.card button[type=submit]")
    await page.wait_for_url(f"{url}/console/")
    assert name in await page.inner_text("header")
    return page


async def reload_until(page: Page, check, timeout: float = 30) -> None:
    """Reload the page until ``check(page)`` holds (the worker moves cases on its own)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check(page):
        assert asyncio.get_running_loop().time() < deadline, f"never happened on {page.url}"
        await asyncio.sleep(0.3)
        await page.reload()


async def trail_of(page: Page) -> list[str]:
    return await page.locator("ol.trail li").all_inner_texts()


async def test_a_supervisor_finds_a_refused_verification_and_moves_the_case_on(
    stack, simulator_url, browser
):
    httpx.post(
        f"{simulator_url}/_faults", json={"service": "verification", "fail_next": 1, "status": 422}
    )
    async with stack.client(ASSISTANT) as assistant:
        created = await assistant.post("/applications", json=application())
        assert created.status_code == 201, created.text
        case_no = created.json()["case_no"]

        page = await sign_in(browser, stack.url, "supervisor", "370305", "钱督办")
        assert "未按时推进的案件" in await page.inner_text("main")
        await look(page, "home-supervisor")

        # The stuck page, filtered by reason: the case is there, once the refusal is in.
        async def listed(page: Page) -> bool:
            while not await page.locator(f"a:text-is('{case_no}')").count():
                following = page.locator("nav.pages a:text-is('下一页')")
                if not await following.count():
                    return False
                await following.click()
            return True

        await page.click("nav >> text=超时与卡住的案件")
        await page.select_option("select[name=reason]", "refused_by_external_system")
        await page.click("form.filters button")
        await reload_until(page, listed)
        row = page.locator("tr", has=page.locator(f"a:text-is('{case_no}')"))
        text = await row.inner_text()
        assert "外部系统拒绝" in text and "入户调查" in text
        await look(page, "stuck")

        await row.locator(f"a:text-is('{case_no}')").click()
        assert case_no in await page.inner_text("h1")
        assert await page.inner_text("dd.stage") == "入户调查"
        assert "核对平台拒绝" in await page.inner_text("dd.verification")
        await look(page, "case")

        # Reverify, with the form sent twice at once (a double click): done once.
        form = page.locator("form#reverify")
        await form.locator("textarea[name=reason]").fill("平台已修正数据")
        statuses = await page.evaluate(
            """async () => {
                const form = document.querySelector('form#reverify');
                const send = () => fetch(form.action, {method: 'POST', body: new FormData(form)});
                const answers = await Promise.all([send(), send()]);
                return answers.map(a => [a.status, a.url]);
            }"""
        )
        assert all(s == 200 and s_url.endswith("?done=reverify") for s, s_url in statuses), statuses
        await page.goto(f"{stack.url}/console/cases/{case_no}?done=reverify")
        assert "已提交：重新核对" in await page.inner_text("main")

        async def verified(page: Page) -> bool:
            return "已收到" in await page.inner_text("dd.verification")

        await reload_until(page, verified)
        asked = [e for e in await trail_of(page) if "要求重新核对" in e]
        assert len(asked) == 1, asked
        assert "钱督办" in asked[0] and "平台已修正数据" in asked[0]
        await look(page, "case-reverified")

        # The case moves on: the survey is in, and the township's review is next.
        surveyed = await assistant.post(f"/applications/{case_no}/survey", json=survey())
        assert surveyed.status_code == 200, surveyed.text

        async def reviewing(page: Page) -> bool:
            return await page.inner_text("dd.stage") == "镇(街道)初审"

        await reload_until(page, reviewing)

        # A refusal shows next to its form, in Chinese; nothing is done.
        form = page.locator("form#reverify")
        await form.locator("textarea[name=reason]").fill("再核对一次")
        await form.locator("button").click()
        problem = await page.locator("form#reverify .problem").inner_text()
        assert problem.startswith("案件当前状态不能进行此操作")
        assert len([e for e in await trail_of(page) if "要求重新核对" in e]) == 1
        await form.locator("textarea[name=reason]").fill("")
        await form.locator("button").click()
        assert await page.locator("form#reverify .problem").inner_text() == "原因：必须填写"
        await look(page, "case-refused")

        # Signing out ends the session: the console asks to sign in again.
        await page.click("header button:text-is('退出')")
        await page.wait_for_url(re.compile(r"/console/sign-in$"))
        await page.goto(f"{stack.url}/console/cases/{case_no}")
        assert "/console/sign-in" in page.url


async def test_what_the_console_refuses(stack, browser):
    xss = "<script>alert(1)</script>"
    async with (
        stack.client(ASSISTANT) as assistant,
        stack.client(AWAY_ASSISTANT) as away,
    ):
        body = application(
            applicant={"name": xss, "id_number": id_number(), "phone": "13800000000"}
        )
        home_case = (await assistant.post("/applications", json=body)).json()["case_no"]
        body = application(township="370305002", village="370305002001")
        created = await away.post("/applications", json=body)
        assert created.status_code == 201, created.text
        away_case = created.json()["case_no"]
        requested = await assistant.post(
            "/emergencies", json=emergency("370305001", "370305001001", amount="1760.00")
        )
        assert requested.status_code == 201, requested.text
        emergency_no = requested.json()["case_no"]

    # Without a session, every page goes to sign-in, and so does a form.
    visitor = await (await browser.new_context()).new_page()
    for path in ("/console/", "/console/stuck", f"/console/cases/{home_case}"):
        await visitor.goto(f"{stack.url}{path}")
        assert visitor.url == f"{stack.url}/console/sign-in?next={path}", path
        assert await visitor.inner_text("h1") == "登录"
    posted = await visitor.request.post(
        f"{stack.url}/console/cases/{home_case}/escalate",
        form={"reason": "x", "idempotency_key": str(uuid.uuid4())},
        max_redirects=0,
    )
    assert posted.status == 303 and "/console/sign-in" in posted.headers["location"]

    page = await sign_in(browser, stack.url, "township_assistant", "370305001", "王助理")
    alerts = []
    page.on("dialog", lambda dialog: alerts.append(dialog.message))

    # The home page lists what waits (other tests' cases share this database: the name is
    # looked for on its case's page); the name from the records shows as text, never runs.
    assert "等待您办理的案件" in await page.inner_text("main")
    await look(page, "home-assistant")
    await page.goto(f"{stack.url}/console/cases/{home_case}")
    assert await page.inner_text("dd.applicant") == f"{xss}（2人）"
    assert not alerts
    assert not await page.locator("form.action").count()  # an assistant does not supervise
    await look(page, "case-assistant")

    await page.goto(f"{stack.url}/console/cases/{emergency_no}")
    facts = await page.inner_text("dl.facts")
    assert "急难型临时救助 · 火灾" in facts and "¥1,760.00" in facts
    payout = page.locator("li.milestone[data-step=payout]")
    assert await payout.get_attribute("data-verdict") == "open"  # its 24 hours run
    assert "24小时内资金到账" in await payout.inner_text()
    await look(page, "case-emergency")

    # A case of another township is not found; a page it may not open is refused.
    answer = await page.goto(f"{stack.url}/console/cases/{away_case}")
    assert answer.status == 404 and await page.inner_text("h1") == "未找到"
    assert away_case not in await page.inner_text("main")
    await look(page, "not-found")
    answer = await page.goto(f"{stack.url}/console/stuck")
    assert answer.status == 403 and await page.inner_text("h1") == "无权访问"
    await look(page, "forbidden")

    # A form without its token, or with another's, is refused: the session's user is signed
    # in, but the post did not come from the console's own page.
    supervisor = await sign_in(browser, stack.url, "supervisor", "370305", "钱督办")
    for token in ({}, {"csrf": "forged"}):
        refused = await supervisor.request.post(
            f"{stack.url}/console/cases/{home_case}/escalate",
            form={"reason": "绕过表单", "idempotency_key": str(uuid.uuid4())} | token,
        )
        assert refused.status == 403 and "表单已失效" in await refused.text()
    await supervisor.goto(f"{stack.url}/console/cases/{home_case}")
    assert "提请区级处理" not in "".join(await trail_of(supervisor))


async def test_the_sign_in_of_the_embedded_stack_is_refused_beside_an_identity_provider(
    settings,
):
    provider = settings.model_copy(update={"jwks_url": "http://127.0.0.1:9/jwks.json"})
    transport = httpx.ASGITransport(app=create_app(provider))
    async with httpx.AsyncClient(transport=transport, base_url="http://console") as http:
        page = await http.get("/console/sign-in")
        assert page.status_code == 403 and "统一身份认证" in page.text
        assert 'name="role"' not in page.text
        # Refused for being beside a provider (not only for its missing form token).
        posted = await http.post(
            "/console/sign-in", data={"role": "supervisor", "jurisdiction": "370305"}
        )
        assert posted.status_code == 403 and "统一身份认证" in posted.text
        assert (await http.get("/console/")).headers["location"].startswith("/console/sign-in")


async def test_an_auditor_sees_the_compliance_chart_and_downloads_the_csv(stack, browser):
    async with stack.client(ASSISTANT) as assistant:
        created = await assistant.post("/applications", json=application())
        assert created.status_code == 201, created.text
        listed = await assistant.get("/townships")
        townships = [t["name"] for t in listed.json()]

    page = await sign_in(browser, stack.url, "auditor", "370305", "吴审计")
    await page.click("nav >> text=合规审计")
    assert await page.inner_text("h1") == "合规审计"
    # This year by default; a bar for each township of the district, its name beside it.
    year = (await page.input_value("input[name=from]"))[:4]
    assert await page.input_value("input[name=from]") == f"{year}-01-01"
    bars = page.locator("svg.bars rect.bar")
    assert await bars.count() == len(townships)
    assert sorted(await bars.evaluate_all("rs => rs.map(r => r.dataset.township)")) == sorted(
        townships
    )
    assert await page.locator("svg.trend").count() == 1
    assert "合计" in await page.inner_text("table.report")
    await look(page, "compliance")

    # The CSV, as Excel opens it: UTF-8 with a BOM, the Chinese headers intact.
    async with page.expect_download() as downloading:
        await page.click("a:text-is('下载 CSV（可用 Excel 打开）')")
    download = await downloading.value
    assert re.fullmatch(r"compliance-\d{4}-01-01-\d{4}-\d\d-\d\d\.csv", download.suggested_filename)
    content = Path(await download.path()).read_bytes()
    assert content.startswith(b"\xef\xbb\xbf")
    header = content.decode("utf-8-sig").splitlines()[0]
    assert header.startswith('"record [类别]","township [镇街代码]","township_name [镇街]"')
    assert '"decided [审核确认]"' in header and '"breaches [超期]"' in header

    # A period the report refuses is said in Chinese next to the form.
    await page.fill("input[name=from]", "2026-05-01")
    await page.fill("input[name=to]", "2026-04-01")
    await page.click("form.filters button")
    assert await page.inner_text("main .problem") == "截止日期：不能早于起始日期"

    # The evidence check: the trail and its seals verified.
    await page.goto(f"{stack.url}/console/compliance")
    await page.click("a:text-is('留痕核验')")
    assert (await page.inner_text(".verdict")).startswith("留痕完整")
    await look(page, "evidence")

    # A caseworker may not open the report (the API's permission).
    assistant_page = await sign_in(browser, stack.url, "township_assistant", "370305001", "王助理")
    answer = await assistant_page.goto(f"{stack.url}/console/compliance")
    assert answer.status == 403
    answer = await assistant_page.goto(f"{stack.url}/console/compliance.csv")
    assert answer.status == 403


async def test_a_district_officer_tops_up_a_reserve(stack, browser):
    page = await sign_in(browser, stack.url, "district_officer", "370305", "赵科长")
    await page.click("nav >> text=储备金")
    assert await page.inner_text("h1") == "临时救助储备金"
    assert await page.locator("table.reserves tbody tr").count() >= 2
    await look(page, "reserves")
    await page.click("table.reserves a[href='/console/reserves/370305001']")
    before = await page.inner_text("dd.balance")
    entries = await page.locator("table.ledger tbody tr").count()

    # A wrong amount is refused next to its field, and nothing is written.
    form = page.locator("form#top-up")
    await form.locator("input[name=amount]").fill("一千")
    await form.locator("textarea[name=note]").fill("年中补充")
    await form.locator("button").click()
    assert await page.inner_text("form#top-up .problem[data-field=amount]") == (
        "金额：请填写金额，例如 1760.00"
    )
    assert await page.input_value("form#top-up textarea[name=note]") == "年中补充"
    assert await page.inner_text("dd.balance") == before
    assert await page.locator("table.ledger tbody tr").count() == entries
    await look(page, "reserve-refused")

    # The top-up, sent twice at once (a double click): the money moves once.
    await page.goto(f"{stack.url}/console/reserves/370305001")
    await page.locator("form#top-up input[name=amount]").fill("1,000.00")
    await page.locator("form#top-up textarea[name=note]").fill("年中补充")
    statuses = await page.evaluate(
        """async () => {
            const form = document.querySelector('form#top-up');
            const send = () => fetch(form.action, {method: 'POST', body: new FormData(form)});
            return (await Promise.all([send(), send()])).map(a => [a.status, a.url]);
        }"""
    )
    assert all(s == 200 and u.endswith("?done=top-up") for s, u in statuses), statuses
    await page.goto(f"{stack.url}/console/reserves/370305001")
    money = lambda text: float(re.sub(r"[¥,]|低于下限", "", text).strip())  # noqa: E731
    assert money(await page.inner_text("dd.balance")) == money(before) + 1000
    newest = await page.inner_text("table.ledger tbody tr >> nth=0")
    assert "补充" in newest and "¥1,000.00" in newest and "年中补充" in newest
    await look(page, "reserve")

    # A township's assistant sees the township's own reserve, and cannot top it up; a
    # village coordinator sees none.
    assistant = await sign_in(browser, stack.url, "township_assistant", "370305001", "王助理")
    await assistant.goto(f"{stack.url}/console/reserves")
    assert assistant.url.endswith("/console/reserves/370305001")
    assert not await assistant.locator("form#top-up").count()
    answer = await assistant.goto(f"{stack.url}/console/reserves/370305002")
    assert answer.status == 404
    coordinator = await sign_in(browser, stack.url, "village_coordinator", "370305001001", "李协理")
    assert not await coordinator.locator("nav >> text=储备金").count()
    answer = await coordinator.goto(f"{stack.url}/console/reserves")
    assert answer.status == 403


async def find_row(page: Page, case_no: str):
    """The row of the case in a paged list, following 下一页 until it is found."""
    while not await page.locator(f"a:text-is('{case_no}')").count():
        following = page.locator("nav.pages a:text-is('下一页')")
        assert await following.count(), f"{case_no} is not listed"
        await following.click()
    return page.locator("tr", has=page.locator(f"a:text-is('{case_no}')"))


async def test_the_lists_of_applications_and_emergencies(stack, browser):
    full_id = id_number()
    async with stack.client(ASSISTANT) as assistant, stack.client(AWAY_ASSISTANT) as away:
        body = application(
            assistance_type="temporary",
            expense="major_illness",
            applicant={"name": "列表测试", "id_number": full_id, "phone": "13800000000"},
        )
        created = await assistant.post("/applications", json=body)
        assert created.status_code == 201, created.text
        case_no = created.json()["case_no"]
        body = application(township="370305002", village="370305002001")
        away_case = (await away.post("/applications", json=body)).json()["case_no"]
        requested = await assistant.post(
            "/emergencies", json=emergency("370305001", "370305001001", amount="1500.00")
        )
        assert requested.status_code == 201, requested.text
        emergency_no = requested.json()["case_no"]
        api_row = [
            c
            for c in (
                await assistant.get(
                    "/applications?assistance_type=temporary&stage=survey&page_size=200"
                )
            ).json()["items"]
            if c["case_no"] == case_no
        ][0]

    page = await sign_in(browser, stack.url, "township_assistant", "370305001", "王助理")
    await page.click("nav >> text=救助申请")
    await page.select_option("select[name=assistance_type]", "temporary")
    await page.select_option("select[name=stage]", "survey")
    await page.click("form.filters button")
    assert "assistance_type=temporary" in page.url and "stage=survey" in page.url
    row = await find_row(page, case_no)
    text = await row.inner_text()
    # The ID number masked as the API's list masks it; the full number nowhere on the page.
    assert api_row["applicant_id_number"] in text and full_id not in await page.content()
    assert "列表测试（2人）" in text and "临时救助" in text and "入户调查" in text
    assert away_case not in await page.content()
    await look(page, "applications")

    # Another township's cases are not the assistant's to list (the API's 404).
    answer = await page.goto(f"{stack.url}/console/applications?township=370305002")
    assert answer.status == 404
    answer = await page.goto(f"{stack.url}/console/applications?stage=nonsense")
    assert answer.status == 422 and "阶段：请从列表中选择" in await page.inner_text("main")

    await page.click("nav >> text=急难救助")
    await page.select_option("select[name=cause]", "fire")
    await page.click("form.filters button")
    row = await find_row(page, emergency_no)
    assert "火灾" in await row.inner_text()
    await look(page, "emergencies")

    # The district sees both townships' cases.
    officer = await sign_in(browser, stack.url, "district_officer", "370305", "赵科长")
    await officer.goto(f"{stack.url}/console/applications?township=370305002")
    await find_row(officer, away_case)


async def test_a_caseworker_takes_a_case_from_intake_to_decision_through_the_forms(stack, browser):
    page = await sign_in(browser, stack.url, "township_assistant", "370305001", "王助理")
    async with stack.client(ASSISTANT) as assistant:

        async def accepted() -> int:
            listed = await assistant.get("/applications?township=370305001&page_size=1")
            return listed.json()["total"]

        before = await accepted()
        await page.click("nav >> text=救助申请")
        await page.click("text=受理新申请")
        assert await page.inner_text("h1") == "受理新申请"
        await look(page, "intake")

        # A wrong ID number is refused next to its field; nothing is accepted.
        good = id_number("19700101")
        wrong = good[:-1] + ("0" if good[-1] != "0" else "1")
        form = page.locator("form#intake")
        await form.locator("select[name=village]").select_option("370305001001")
        await form.locator("textarea[name=reason]").fill("失业，无稳定收入")
        await form.locator("input[name='applicant.name']").fill("陈表单")
        await form.locator("input[name='applicant.id_number']").fill(wrong)
        await form.locator("input[name='applicant.phone']").fill("13800000000")
        await form.locator("input[name='household.0.name']").fill("陈小表")
        await form.locator("input[name='household.0.id_number']").fill(id_number("20120303"))
        await form.locator("input[name='household.0.relation']").fill("子女")
        await form.locator("input[name='bank_account.bank']").fill("齐商银行")
        await form.locator("input[name='bank_account.account_no']").fill("6223000011112222")
        await form.locator("input[name='bank_account.holder']").fill("陈表单")
        await form.locator("button").click()
        problem = page.locator(".problem[data-field='applicant.id_number']")
        assert await problem.inner_text() == "申请人身份证号：身份证号校验位不符，请重新核对身份证"
        assert await page.input_value("input[name='household.0.name']") == "陈小表"
        assert await accepted() == before
        await look(page, "intake-refused")

        await page.fill("input[name='applicant.id_number']", good)
        await page.click("form#intake button")
        await page.wait_for_url(re.compile(r"/console/cases/[\w-]+\?done=accepted$"))
        case_no = page.url.rsplit("/", 1)[1].split("?")[0]
        assert await accepted() == before + 1
        assert await page.inner_text("dd.stage") == "入户调查"
        assert "已提交：受理" in await page.inner_text("main")

        # The survey with one investigator: the rule's message next to the field, in
        # Chinese; nothing on the trail.
        form = page.locator("form#survey")
        await form.locator("input[name=investigators]").fill("李协理")
        await form.locator("textarea[name=findings]").fill("两居室，无车辆")
        await form.locator("input[name=household_monthly_income]").fill("400")
        await form.locator("button").click()
        problem = page.locator("form#survey .problem[data-field=investigators]")
        assert await problem.inner_text() == (
            "调查人员：入户调查至少需要2名调查人员，请填写每个人的姓名"
        )
        assert await page.input_value("form#survey textarea[name=findings]") == "两居室，无车辆"
        assert not [e for e in await trail_of(page) if "录入入户调查" in e]
        case = (await assistant.get(f"/applications/{case_no}")).json()
        assert case["surveyed_at"] is None
        await look(page, "case-survey-refused")

        await page.fill("form#survey input[name=investigators]", "李协理、周干事")
        await page.click("form#survey button")
        await page.wait_for_url(re.compile(r"\?done=survey$"))

        # The verification platform (the simulator) answers; the case moves to review.
        async def at(stage: str):
            async def check(page: Page) -> bool:
                return await page.inner_text("dd.stage") == stage

            return check

        await reload_until(page, await at("镇(街道)初审"))
        assert "已收到" in await page.inner_text("dd.verification")
        # A form the stage does not take is not offered.
        assert not await page.locator("form#survey").count()
        await page.select_option("form#review select[name=recommendation]", "approve")
        await page.fill("form#review textarea[name=reasons]", "家庭人均收入低于低保标准")
        await page.click("form#review button")
        await page.wait_for_url(re.compile(r"\?done=review$"))
        # The notice is of 0 days in this stack: the case goes on to the district.
        await reload_until(page, await at("区民政局审核确认"))
        assert not await page.locator("form#decision").count()  # the district's
        await look(page, "case-assistant-decision")

    officer = await sign_in(browser, stack.url, "district_officer", "370305", "赵科长")
    await officer.goto(f"{stack.url}/console/cases/{case_no}")
    await officer.select_option("form#decision select[name=outcome]", "approve")
    await officer.fill("form#decision textarea[name=reasons]", "符合低保条件")
    await officer.click("form#decision button")
    await officer.wait_for_url(re.compile(r"\?done=decision$"))
    await reload_until(officer, await at("已批准"))
    trail = "\n".join(await trail_of(officer))
    for step in ("受理", "录入入户调查", "收到核对报告", "初审", "批准"):
        assert step in trail, step
    assert "赵科长" in trail and "王助理" in trail

    # The steps as a timeline, each time limit kept; the trail checked against the history.
    async def verdict(page: Page, step: str) -> str | None:
        return await page.get_attribute(f"li.milestone[data-step={step}]", "data-verdict")

    assert await verdict(officer, "survey") == "kept"
    assert await verdict(officer, "decision") == "kept"
    assert "按时" in await officer.inner_text("li.milestone[data-step=decision]")
    assert not await officer.locator("li.milestone[data-step=refusal_notice]").count()
    for step in ("accepted", "survey", "review", "notice", "decision"):
        done = await officer.get_attribute(f"li.milestone[data-step={step}]", "class")
        assert "is-done" in done, step
    checked = officer.locator("p.evidence")
    assert await checked.get_attribute("data-matches") == "true"
    assert "与流程历史一致" in await checked.inner_text()
    await look(officer, "case-approved")
    # A caseworker sees the timeline, not the evidence check (the API's is the overseers').
    await page.goto(f"{stack.url}/console/cases/{case_no}")
    assert await verdict(page, "decision") == "kept"
    assert not await page.locator("p.evidence").count()


@pytest.fixture
def identity_provider() -> Iterator[str]:
    """A small OpenID provider of the test's own, its users' claims as the district's provider
    issues them; its issuer URL."""
    users = [
        User(sub="qian", claims={"name": "钱督办", "role": "supervisor", "jurisdiction": "370305"}),
        # A district's role with a township's code: authentic, but not usable here.
        User(sub="misfiled", claims={"role": "supervisor", "jurisdiction": "370305001"}),
    ]
    with run_server_in_thread(user_claims=users) as server:
        yield f"http://localhost:{server.server_port}"


async def offline_context(browser: Browser) -> BrowserContext:
    """A browser context that reaches only this machine (the provider's pages name a
    stylesheet on a CDN)."""
    context = await browser.new_context()
    await context.route(
        re.compile(r"^https?://(?!(127\.0\.0\.1|localhost)[:/])"), lambda route: route.abort()
    )
    return context


async def test_signing_in_through_the_identity_provider(
    dev_env, api_settings, identity_provider, browser
):
    settings = api_settings.model_copy(
        update={
            "oidc_discovery_url": f"{identity_provider}/.well-known/openid-configuration",
            "oidc_client_id": "jiuzhu-console",
            "oidc_client_secret": "console-secret",
        }
    )
    async with running_stack(dev_env.client, settings) as stack:
        # Without a session the console sends the browser to the provider, with a PKCE
        # challenge, a state and a nonce.
        page = await (await offline_context(browser)).new_page()
        await page.goto(f"{stack.url}/console/")
        assert page.url.startswith(f"{identity_provider}/oauth2/authorize?")
        asked = httpx.URL(page.url).params
        assert asked["response_type"] == "code" and asked["client_id"] == "jiuzhu-console"
        assert asked["code_challenge_method"] == "S256" and len(asked["code_challenge"]) == 43
        assert asked["state"] and asked["nonce"] and "openid" in asked["scope"].split()
        assert asked["redirect_uri"] == f"{stack.url}/console/signed-in"

        # Signed in there, the browser lands on the home page as the role the provider claims.
        await page.click("button[name=sub][value=qian]")
        await page.wait_for_url(f"{stack.url}/console/")
        assert "钱督办（" in await page.inner_text("header")
        assert "未按时推进的案件" in await page.inner_text("main")
        cookies = {c["name"]: c for c in await page.context.cookies()}
        session_cookie = cookies["jiuzhu_console"]
        assert session_cookie["httpOnly"] and session_cookie["sameSite"] == "Lax"
        assert "jiuzhu_console_sign_in" not in cookies  # the sign-in under way is used up
        await look(page, "home-provider")

        # The demo sign-in is refused beside the provider.
        posted = await page.request.post(
            f"{stack.url}/console/sign-in",
            form={"role": "auditor", "jurisdiction": "370305", "csrf": "x"},
        )
        assert posted.status == 403 and "统一身份认证" in await posted.text()

        # Signing out ends the session, without going straight back to the provider.
        await page.click("header button:text-is('退出')")
        await page.wait_for_url(f"{stack.url}/console/signed-out")
        await look(page, "signed-out")
        await page.goto(f"{stack.url}/console/stuck")
        assert page.url.startswith(f"{identity_provider}/oauth2/authorize?")

        # A provider's answer this browser did not ask for (the answer to another browser's
        # sign-in, a forged state, none) signs no one in.
        started = await (await offline_context(browser)).new_page()
        await started.goto(f"{stack.url}/console/")
        chosen = await started.request.post(started.url, form={"sub": "qian"}, max_redirects=0)
        assert chosen.status == 302, await chosen.text()
        answers = [chosen.headers["location"]]
        assert answers[0].startswith(f"{stack.url}/console/signed-in?")
        answer = httpx.URL(answers[0])
        stranger = await (await offline_context(browser)).new_page()
        for victim, url in (
            (stranger, answers[0]),
            (started, answer.copy_set_param("state", "forged")),
            (started, answer.copy_remove_param("state")),
        ):
            refused = await victim.goto(str(url))
            assert refused.status == 403, url
            assert "登录请求已失效或不是从本系统发起的" in await victim.inner_text("main")
        await look(stranger, "sign-in-refused")
        for victim in (stranger, started):
            await victim.goto(f"{stack.url}/console/")
            assert victim.url.startswith(f"{identity_provider}/oauth2/authorize?")

        # An authentic user whose claims this system cannot use is told to have them corrected.
        misfiled = await (await offline_context(browser)).new_page()
        await misfiled.goto(f"{stack.url}/console/")
        await misfiled.click("button[name=sub][value=misfiled]")
        await misfiled.wait_for_url(re.compile(r"/console/signed-in"))
        assert "请联系管理员更正账号" in await misfiled.inner_text("main")


async def test_the_temporal_web_ui_shows_a_case_decoded_and_masked(
    simulator_url, dev_database_url, browser, tmp_path
):
    """The Web UI of a dev server started as ``make run`` starts it (its own SQLite file, the
    API's /codec as its codec endpoint): a case's workflow page shows the input decoded, every
    personal number masked, and no "Codec Server could not connect" banner."""
    port, ui_port = free_port(), free_port()
    ui = f"http://127.0.0.1:{ui_port}"
    settings = stack_settings(
        database_url=dev_database_url,
        simulator_url=simulator_url,
        temporal_address=f"127.0.0.1:{port}",
        codec_cors_origins=[ui, f"http://localhost:{ui_port}"],
    )
    with serve(create_app(settings)) as api_url:
        command = temporal_dev_server_command(
            db_file=tmp_path / "temporal.db",
            port=port,
            ui_port=ui_port,
            codec_endpoint=f"{api_url}/codec",
        )
        # As stack.py starts it (its own process, not the session's headless dev server).
        server = subprocess.Popen(  # noqa: ASYNC220
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            wait_for_port("127.0.0.1", port, server)
            wait_for_port("127.0.0.1", ui_port, server)
            client = await Client.connect(f"127.0.0.1:{port}", data_converter=CONVERTER)
            worker, external = create_worker(client, settings)
            async with (
                worker,
                httpx.AsyncClient(
                    base_url=api_url, headers=actors.headers(settings, ASSISTANT), timeout=30
                ) as assistant,
            ):
                # The API started before the server: it reaches it on its next retry.
                for _ in range(100):
                    if (await assistant.get("/readyz")).status_code == 200:
                        break
                    await asyncio.sleep(0.2)
                person = id_number()
                body = application(
                    applicant={"name": "赵解码", "id_number": person, "phone": "13912345678"}
                )
                created = await assistant.post("/applications", json=body)
                assert created.status_code == 201, created.text
                case_no = created.json()["case_no"]

                page = await (await offline_context(browser)).new_page()
                await page.goto(
                    f"{ui}/namespaces/default/workflows/{application_workflow_id(case_no)}"
                )
                shown = page.get_by_text(mask_id_number(person)).first
                await shown.wait_for(timeout=30_000)
                text = await page.inner_text("body")
                assert case_no in text and "赵解码" in text
                assert person not in text and "13912345678" not in text
                assert "could not connect" not in text.lower()
                await look(page, "temporal-web-ui")
            await external.close()
        finally:
            server.terminate()
            server.wait(10)
