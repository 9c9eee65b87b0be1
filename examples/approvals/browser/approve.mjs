// Drives the system Chromium (headless) through the approval web pages, as people would:
// the requester signs in and opens their own pending approval (they may not decide it), then
// an approver signs in, finds it in the inbox, opens it and approves it with a reason.
// Screenshots go to $SCREENSHOTS. Prints one JSON line: what it saw. Run by
// examples/approvals/verify with SERVICE_URL, REQUESTER, APPROVER, SCREENSHOTS set.
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";

const service = process.env.SERVICE_URL;
const shots = process.env.SCREENSHOTS;
const requester = process.env.REQUESTER;
const approver = process.env.APPROVER;
mkdirSync(shots, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
});
const seen = {};
let current = null; // the page being driven, for a screenshot if a step fails

// Signs `user` in at the demo identity provider and lands on the inbox.
async function signIn(user) {
  const context = await browser.newContext();
  const page = await context.newPage();
  current = page;
  await page.goto(`${service}/ui`);
  await page.getByRole("button", { name: `Sign in as ${user}` }).click();
  try {
    await page.waitForURL(`${service}/ui`, { timeout: 10000 });
    await page.getByText(`Signed in as ${user}`).waitFor({ timeout: 10000 });
  } catch (error) {
    await page.screenshot({ path: `${shots}/sign-in-failed.png`, fullPage: true });
    throw new Error(`${user} could not sign in: at ${page.url()}: ${(await page.innerText("body")).slice(0, 500)}`);
  }
  return { context, page };
}

try {
  // The requester: their request is listed as theirs, and its page offers no decision.
  {
    const { context, page } = await signIn(requester);
    const cookies = await context.cookies();
    const session = cookies.find((c) => c.name === "warden_session");
    seen.session_cookie = session && { httpOnly: session.httpOnly, secure: session.secure, sameSite: session.sameSite };
    await page.getByRole("heading", { name: "Asked by you" }).waitFor();
    await page.getByRole("link", { name: /^apr_/ }).first().click();
    await page.getByRole("heading", { name: /Approval apr_/ }).waitFor();
    seen.requester_notice = await page.getByRole("status").innerText();
    seen.requester_can_approve = await page.getByRole("button", { name: "Approve" }).count();
    await page.screenshot({ path: `${shots}/requester-cannot-decide.png`, fullPage: true });
    await context.close();
  }
  // The approver: the inbox lists it; approve it with a reason.
  {
    const { context, page } = await signIn(approver);
    await page.getByRole("heading", { name: "Waiting for you" }).waitFor();
    const link = page.getByRole("link", { name: /^apr_/ }).first();
    seen.approval_id = await link.innerText();
    await page.screenshot({ path: `${shots}/inbox.png`, fullPage: true });
    await link.click();
    await page.getByRole("heading", { name: /Approval apr_/ }).waitFor();
    seen.action = await page.locator('tr:has(th:text-is("Action"))').innerText();
    seen.preview = await page.locator("pre.preview").innerText();
    await page.screenshot({ path: `${shots}/approval.png`, fullPage: true });
    // Keyboard: the reason field and the buttons are reachable and labelled.
    await page.getByLabel("Reason (required to deny)").fill("change ticket OPS-9");
    await page.getByRole("button", { name: "Approve" }).click();
    // Approved, and at once used by the held request (consumed) when it resumes.
    await page.getByText(/Status: (approved|consumed)/).waitFor();
    seen.status_after = (await page.locator(".status").innerText()).trim();
    seen.votes = await page.getByRole("listitem").allInnerTexts();
    await page.screenshot({ path: `${shots}/approved.png`, fullPage: true });
    // A form posted without the session's CSRF token is refused.
    const forged = await page.request.post(`${service}/ui/approvals/${seen.approval_id}`, {
      form: { decision: "deny", reason: "forged", csrf: "not-the-token" },
    });
    seen.forged_status = forged.status();
    // Sign out: the inbox then asks for a login again.
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByText("You are signed out").waitFor();
    await page.goto(`${service}/ui`);
    seen.after_logout_url = page.url();
    await context.close();
  }
  console.log(JSON.stringify(seen));
} catch (error) {
  if (current) {
    await current.screenshot({ path: `${shots}/failed.png`, fullPage: true }).catch(() => {});
    const text = await current.innerText("body").catch(() => "");
    console.error(`failed at ${current.url()}: ${text.slice(0, 800)}`);
  }
  throw error;
} finally {
  await browser.close();
}
