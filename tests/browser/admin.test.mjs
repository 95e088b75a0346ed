// The console's tenant administration (departments, categories and their
// routing, Open311 keys, CSV exports, the audit trail) and a reload that
// keeps the session, in a real Chromium against the real gateway and
// database.  Uses 12102 and 12104, which no other browser test changes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { Env, psql, lit, token } from './harness.mjs';

const env = new Env();
const A = 12102;	// 千葉市花見川区
const B = 12104;	// 千葉市若葉区
const tok = token('adm');
let admin;			// tenant admin of A
let otherAdmin;		// tenant admin of B

before(async () => {
	await env.start();
	admin = await env.staff(A, 'tenant_admin');
	otherAdmin = await env.staff(B, 'tenant_admin');
});

after(async () => { await env.stop(); });

const loggedIn = (s = admin) => env.loggedIn(s);

async function section(page, name) {
	await page.goto(`${env.base}/console/#/admin/${name}`);
	await page.waitForSelector(`#admin-nav a[data-section="${name}"][aria-current="page"]`);
}

test('a reload keeps the session: no password asked, and writes still work (CSRF token from GET /v1/auth/session)', async () => {
	const page = await loggedIn();
	await page.click('nav a[data-nav="admin"]');
	await page.waitForSelector('#staff-create');
	await page.reload();
	await page.waitForSelector('#staff-create');
	assert.equal(await page.locator('#login-form').count(), 0);
	assert.equal((await page.locator('header .who').textContent()).trim(), admin.email);
	// a state-changing request after the reload
	await page.fill('#idle-minutes', '41');
	await page.click('#idle-submit');
	await page.waitForSelector('#timeout-card .result.ok');
	assert.equal(psql(`SELECT staff_idle_timeout FROM machi.tenant WHERE tenant_id = ${A};`)[0][0], '00:41:00');
	psql(`SELECT machi.update_tenant(${A}, staff_idle_timeout => '30 minutes');`);
	// the token stayed in memory: nothing in the page's storage but the language
	assert.deepEqual(await page.evaluate(() => Object.keys(sessionStorage)), []);
	assert.ok((await page.evaluate(() => Object.keys(localStorage))).every((k) => k === 'machi.console.lang'));
	// and it is the session's own: without the cookie the same request is refused
	const csrf = await page.evaluate(async () => (await (await fetch('/v1/auth/session')).json()).csrf_token);
	assert.match(csrf, /^[A-Za-z0-9_-]{43}$/);
	const bare = await env.api.patch('/v1/admin/tenant', { headers: { 'X-CSRF-Token': csrf, Cookie: '' },
		data: { staff_idle_timeout_minutes: 5 } });
	assert.equal(bare.status(), 401);
	// logging out ends it: a reload then shows the login page
	await page.click('#logout');
	await page.waitForSelector('#login-form');
	await page.reload();
	await page.waitForSelector('#login-form');
	page.errors.length = 0;	// the reload's session probe answers 401
	await page.context().close();
});

test('a reload during the forced password change keeps the change possible', async () => {
	const s = await env.staff(A, 'staff', { ready: false });
	const page = await env.page();
	await env.login(page, s.email, s.password);
	await page.waitForSelector('#pw-forced');
	await page.reload();
	await page.waitForSelector('#pw-forced');
	const strong = `${token('pw')} 冬の 朝の 市場 ${Date.now()}`;
	await page.fill('#pw-current', s.password);
	await page.fill('#pw-new', strong);
	await page.fill('#pw-confirm', strong);
	await page.click('#pw-submit');
	await page.waitForSelector('#notices');
	assert.equal((await env.api.post('/v1/auth/login', { data: { email: s.email, password: strong } })).status(), 200);
	// the staff list is not for the staff role (403); anything else would be a fault
	assert.deepEqual(page.errors.filter((e) => !/status of 403/.test(e)), []);
	await page.context().close();
});

test('a tenant admin adds and renames a department, then routes a new category to it', async () => {
	const page = await loggedIn();
	await page.click('nav a[data-nav="admin"]');
	await page.click('#admin-nav a[data-section="departments"]');
	await page.waitForSelector('#dept-create');
	await page.fill('#dept-new-name', `道路維持課 ${tok}`);
	await page.fill('#dept-new-name-en', 'Road maintenance');
	await page.click('#dept-new-submit');
	await page.waitForSelector('#dept-result.ok');
	const [[deptId]] = psql(`SELECT department_id FROM machi.department WHERE tenant_id = ${A} AND name = ${lit('道路維持課 ' + tok)};`);
	const row = page.locator(`#dept-table tr[data-id="${deptId}"]`);
	await row.locator('.dept-name').fill(`道路保全課 ${tok}`);
	await row.locator('.dept-save').click();
	await page.waitForSelector('#dept-result.ok');
	assert.equal(await page.locator(`#dept-table tr[data-id="${deptId}"] .dept-name`).inputValue(), `道路保全課 ${tok}`);
	assert.deepEqual(psql(`SELECT name, name_en, active FROM machi.department WHERE tenant_id = ${A} AND department_id = ${deptId};`),
		[[`道路保全課 ${tok}`, 'Road maintenance', 't']]);

	await page.click('#admin-nav a[data-section="categories"]');
	await page.waitForSelector('#cat-create');
	const code = `c${tok}`;
	await page.fill('#cat-new-code', code);
	await page.fill('#cat-new-name', `街路樹の倒木 ${tok}`);
	await page.selectOption('#cat-new-dept', String(deptId));
	await page.click('#cat-new-submit');
	await page.waitForSelector(`#cat-table tr[data-code="${code}"]`);
	assert.equal(await page.locator(`#cat-table tr[data-code="${code}"] .cat-dept`).inputValue(), String(deptId));
	// citizens are offered it, routed to the new department
	const pub = await (await env.api.get(`/v1/tenants/${A}/categories`)).json();
	const cat = pub.categories.find((c) => c.code === code);
	assert.equal(cat.department.id, Number(deptId));
	assert.equal(cat.department.name, `道路保全課 ${tok}`);
	await env.shot(page, 'console-admin-categories.png');
	// routing changed to another department
	const [[otherDept]] = psql(`SELECT min(department_id) FROM machi.department WHERE tenant_id = ${A} AND active AND department_id <> ${deptId};`);
	const crow = page.locator(`#cat-table tr[data-code="${code}"]`);
	await crow.locator('.cat-dept').selectOption(String(otherDept));
	await crow.locator('.cat-save').click();
	await page.waitForSelector('#cat-result.ok');
	assert.equal(psql(`SELECT department_id FROM machi.category WHERE tenant_id = ${A} AND code = ${lit(code)};`)[0][0], otherDept);
	// another municipality's admin cannot route anything to this department
	const [[bCat]] = psql(`SELECT min(category_id) FROM machi.category WHERE tenant_id = ${B};`);
	const other = await loggedIn(otherAdmin);
	const res = await other.evaluate(async ([id, dept]) => {
		const s = await (await fetch('/v1/auth/session')).json();
		const r = await fetch(`/v1/admin/categories/${id}`, { method: 'PATCH', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': s.csrf_token },
			body: JSON.stringify({ department_id: Number(dept) }) });
		return r.status;
	}, [bCat, deptId]);
	assert.equal(res, 422);
	assert.deepEqual(page.errors, []);
	await other.context().close();
	await page.context().close();
});

test('an Open311 key is shown once, stored as a hash, and can be revoked', async () => {
	const page = await loggedIn();
	await section(page, 'keys');
	await page.fill('#key-label', `ダッシュボード ${tok}`);
	await page.click('#key-submit');
	const key = (await page.locator('#api-key-once').textContent()).trim();
	assert.match(key, /^mk_/);
	const sha = createHash('sha256').update(key).digest('hex');
	const [[keyId, label, revoked]] = psql(`SELECT key_id, label, revoked_at IS NOT NULL FROM machi.api_key WHERE tenant_id = ${A} AND key_hash = decode('${sha}', 'hex');`);
	assert.deepEqual([label, revoked], [`ダッシュボード ${tok}`, 'f']);
	assert.equal(psql(`SELECT count(*) FROM machi.api_key WHERE label LIKE '%' || ${lit(key)} || '%' OR encode(key_hash, 'escape') LIKE '%' || ${lit(key)} || '%';`)[0][0], '0');
	await page.waitForSelector(`#key-table tr[data-id="${keyId}"]`);
	await env.shot(page, 'console-admin-keys.png', ['#api-key-once']);
	// drawn again, the key is gone from the page
	await page.click('#admin-nav a[data-section="exports"]');
	await page.click('#admin-nav a[data-section="keys"]');
	await page.waitForSelector(`#key-table tr[data-id="${keyId}"]`);
	assert.equal(await page.locator('#api-key-once').count(), 0);
	assert.ok(!(await page.content()).includes(key));
	// revoking asks twice
	const revoke = page.locator(`#key-table tr[data-id="${keyId}"] .key-revoke`);
	await revoke.click();
	assert.equal(psql(`SELECT revoked_at IS NULL FROM machi.api_key WHERE key_id = ${keyId};`)[0][0], 't');
	await revoke.click();
	await page.waitForSelector(`#key-table tr[data-id="${keyId}"] .key-revoke`, { state: 'detached' });
	assert.equal(psql(`SELECT revoked_at IS NOT NULL FROM machi.api_key WHERE key_id = ${keyId};`)[0][0], 't');
	assert.deepEqual(page.errors, []);
	await page.context().close();
});

test('the users CSV downloads through a plain link with the session cookie', async () => {
	const page = await loggedIn();
	await section(page, 'exports');
	const href = await page.locator('#export-users').getAttribute('href');
	assert.match(href, /^\/v1\/admin\/export\/users\.csv\?/);
	const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export-users')]);
	assert.equal(download.suggestedFilename(), `${A}-users.csv`);
	const csv = readFileSync(await download.path());
	assert.deepEqual([...csv.subarray(0, 3)], [0xef, 0xbb, 0xbf], 'BOM for Excel');
	const lines = csv.subarray(3).toString('utf8').trimEnd().split('\r\n');
	assert.equal(lines[0], 'account_id,role,state,email,name,contact,created_at');
	const mine = lines.find((l) => l.startsWith(`${admin.id},`));
	assert.ok(mine, 'the admin is listed');
	assert.match(mine, new RegExp(`^${admin.id},tenant_admin,active,${admin.email.replace(/\./g, '\\.')},試験 職員,`));
	assert.ok(!lines.some((l) => l.includes(otherAdmin.email)), 'no staff of another municipality');
	assert.ok(lines.slice(1).every((l) => /^\d+,/.test(l)));
	// without the BOM when unticked; the download is in the audit trail
	await page.uncheck('#export-bom');
	assert.ok(!(await page.locator('#export-users').getAttribute('href')).includes('bom=1'));
	const [[n]] = psql(`SELECT count(*) FROM machi.audit_log WHERE event = 'export' AND account_id = ${admin.id} AND detail->>'what' = 'users';`);
	assert.ok(Number(n) >= 1);
	assert.deepEqual(page.errors, []);
	await page.context().close();
});

test('the audit trail shows the action just done; another municipality\'s admin never sees it', async () => {
	const page = await loggedIn();
	// the API calls from here on (the admin made many before: keep them off the page)
	const since = new Date(Date.now() - 5000).toISOString();
	await section(page, 'departments');
	await page.fill('#dept-new-name', `監査確認課 ${tok}`);
	await page.click('#dept-new-submit');
	await page.waitForSelector('#dept-result.ok');
	const [[deptId]] = psql(`SELECT department_id FROM machi.department WHERE tenant_id = ${A} AND name = ${lit('監査確認課 ' + tok)};`);
	await page.click('#admin-nav a[data-section="audit"]');
	await page.waitForSelector('#audit-filters');
	await page.selectOption('#a-type', 'row');
	await page.selectOption('#a-account', String(admin.id));
	await page.click('#a-submit');
	await page.waitForFunction(() => /type=row/.test(location.hash));
	// the filtered list, not the one before it (drawn until the new one is)
	await page.waitForFunction(() => {
		const rows = [...document.querySelectorAll('#audit-table tbody tr')];
		return rows.length > 0 && rows.every((r) => r.dataset.event === 'row');
	});
	const entry = page.locator('#audit-table tr[data-table="machi.department"]', { hasText: `"department_id":${deptId}` });
	await entry.waitFor();
	assert.match(await entry.textContent(), /追加/);
	assert.match(await entry.textContent(), new RegExp(`#${admin.id}`));
	assert.ok(await page.locator('#audit-table tbody tr').count() >= 1);
	assert.ok((await page.locator('#audit-table tbody tr').evaluateAll((rs) => rs.map((r) => r.dataset.event)))
		.every((e) => e === 'row'), 'filtered by type');
	await env.shot(page, 'console-audit.png');
	// the API call that did it is there too
	await page.goto(`${env.base}/console/#/admin/audit?type=api_call&account=${admin.id}&from=${encodeURIComponent(since)}&limit=100`);
	await page.locator('#audit-table tr[data-event="api_call"]', { hasText: 'POST /v1/admin/departments' }).first().waitFor();
	assert.deepEqual(page.errors, []);

	// the other municipality's admin: none of A's rows, whatever the filter
	const other = await loggedIn(otherAdmin);
	await section(other, 'audit');
	await other.waitForSelector('#audit-info');
	await other.waitForFunction(() => !document.querySelector('#audit-info').textContent.includes('…'));
	const text = await other.locator('main').textContent();
	assert.ok(!text.includes(`"department_id":${deptId}`));
	assert.equal(await other.locator(`#a-account option[value="${admin.id}"]`).count(), 0);
	const seen = await other.evaluate(async (id) => {
		const all = await (await fetch('/v1/admin/audit?limit=100')).json();
		const byA = await (await fetch(`/v1/admin/audit?account=${id}`)).json();
		return { accounts: [...new Set(all.entries.map((e) => e.account_id))], byA: byA.entries.length, status: 200 };
	}, admin.id);
	assert.equal(seen.byA, 0);
	const bStaff = new Set(psql(`SELECT account_id FROM machi.account WHERE tenant_id = ${B};`).map((r) => Number(r[0])));
	assert.ok(seen.accounts.length >= 1);
	assert.ok(seen.accounts.every((id) => bStaff.has(id)), 'only accounts of the own municipality');
	assert.deepEqual(other.errors, []);
	await other.context().close();
	await page.context().close();
});

test('staff without the audit permission get neither the screens nor the API', async () => {
	const s = await env.staff(A, 'staff');
	const page = await loggedIn(s);
	assert.equal(await page.locator('nav a[data-nav="admin"]').count(), 0);
	await page.goto(`${env.base}/console/#/admin/audit`);
	await page.waitForSelector('main p.error');
	assert.equal(await page.locator('#audit-table').count(), 0);
	const status = await page.evaluate(async () => (await fetch('/v1/admin/audit')).status);
	assert.equal(status, 403);
	page.errors.length = 0;
	await page.context().close();
});
