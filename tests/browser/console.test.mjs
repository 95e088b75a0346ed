// The staff console in a real Chromium against the real gateway and database.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Env, psql, lit, token, png, CHUO, INAGE } from './harness.mjs';

const env = new Env();
let admin;		// tenant admin of 12101, password already changed
let citizen;
const tok = token('q');	// the word every report of this run carries
const ids = {};

before(async () => {
	await env.start();
	admin = await env.staff(12101, 'tenant_admin');
	citizen = env.citizen();
	ids.road = env.report(citizen, { category: 'road', ...CHUO, title: `歩道の段差 ${tok}`, description: `段差でつまずきます ${tok}`, address: '千葉市中央区千葉港1-1' });
	ids.park = env.report(citizen, { category: 'park', lat: CHUO.lat + 0.001, lon: CHUO.lon + 0.001, title: `遊具の破損 ${tok}`, description: `ブランコの鎖が切れています。連絡先 090-1234-5678 山田 ${tok}` });
	env.photo(citizen, ids.park, png(64, 48, [200, 40, 40]));
	env.photo(citizen, ids.park, png(64, 48, [40, 40, 200]));
	psql(`SELECT machi.create_notice(${lit('定期メンテナンスのお知らせ ' + tok)}, '12月1日 2:00〜4:00 は登録ができません。', now() - interval '1 hour', now() + interval '1 day', 'staff', 12101);
SELECT machi.create_incident(${lit('写真の表示が遅い障害 ' + tok)}, now() - interval '2 hours', ARRAY[12101], 'ストレージの応答遅延', '調査中です。');`);
	const other = env.citizen();
	ids.inage = env.report(other, { category: 'road', ...INAGE, title: `稲毛区の非公開の通報 ${tok}`, description: 'other tenant' });
});

after(async () => { await env.stop(); });

const loggedIn = (s = admin) => env.loggedIn(s);

test('a failed login shows the server\'s one generic message', async () => {
	const page = await env.page();
	await env.shot(page, 'console-login.png');
	await env.login(page, admin.email, 'wrong password, surely');
	const err = page.locator('#login-error');
	await err.waitFor();
	const direct = await (await env.api.post('/v1/auth/login', { data: { email: 'nobody@example.jp', password: 'x' } })).json();
	assert.equal((await err.locator('.message').textContent()).trim(), direct.error.message);
	assert.equal(await page.locator('#login-password').inputValue(), '');
	await page.context().close();
});

test('forgot password: the request is sent and the neutral answer shown', async () => {
	const page = await env.page();
	await page.click('#forgot-link');
	await page.fill('#forgot-email', admin.email);
	await page.click('#forgot-submit');
	await page.waitForSelector('#forgot-done:not([hidden])');
	assert.match(await page.locator('#forgot-done').textContent(), /再設定用のリンク/);
	await page.context().close();
});

test('the first login forces a password change, with the rules first and the server\'s feedback', async () => {
	const s = await env.staff(12101, 'staff', { ready: false });
	const page = await env.page();
	await env.login(page, s.email, s.password);
	await page.waitForSelector('#password-form');
	assert.match(await page.locator('#password-rules').textContent(), /10文字以上/);
	assert.ok(await page.locator('#pw-forced').isVisible());
	assert.equal(await page.locator('nav.nav').count(), 0, 'no navigation before the change');
	await env.shot(page, 'console-password-change.png');
	await page.fill('#pw-current', s.password);
	await page.fill('#pw-new', 'password1234');
	await page.fill('#pw-confirm', 'password1234');
	await page.click('#pw-submit');
	const err = page.locator('#pw-error');
	await err.waitFor();
	assert.match(await err.textContent(), /too easy to guess/);
	assert.match(await err.textContent(), /strength is \d of 4/);
	const strong = `${token('pw')} 静かな 港の 灯台 ${Date.now()}`;
	await page.fill('#pw-new', strong);
	await page.fill('#pw-confirm', strong);
	await page.click('#pw-submit');
	await page.waitForSelector('#notices');
	// the new password works, the initial one no longer does
	const ok = await env.api.post('/v1/auth/login', { data: { email: s.email, password: strong } });
	assert.equal(ok.status(), 200);
	assert.equal((await ok.json()).account.must_change_password, false);
	await page.context().close();
});

test('the top page shows counts per status and the newest reports', async () => {
	const page = await loggedIn();
	await page.waitForSelector('#status-counts');
	await page.waitForSelector(`#newest-reports tr[data-id="${ids.park}"]`);
	assert.ok(Number(await page.locator('#status-counts td[data-status="received"]').textContent()) >= 2);
	assert.match(await page.locator('#notices').textContent(), new RegExp('定期メンテナンスのお知らせ ' + tok));
	assert.match(await page.locator('#incidents').textContent(), new RegExp('写真の表示が遅い障害 ' + tok));
	await env.shot(page, 'console-top.png');
	assert.deepEqual(page.errors, []);
	await page.context().close();
});

test('the queue filters by text, category and status; the CSV has the same rows', async () => {
	const page = await loggedIn();
	await page.click('nav a[data-nav="queue"]');
	await page.waitForSelector('#filters');
	await page.fill('#f-q', tok);
	await page.click('#f-submit');
	// the filtered screen, not the one before it (which may list the same
	// rows among others and stays until the new one is drawn): exactly the
	// two reports of this test, and only them
	await page.waitForFunction((q) => location.hash.includes(`q=${q}`), tok);
	await page.waitForFunction((q) => {
		const rows = [...document.querySelectorAll('#queue-table tbody tr')];
		return rows.length === 2 && rows.every((r) => r.textContent.includes(q));
	}, tok);
	assert.equal(await page.locator(`#queue-table tr[data-id="${ids.park}"]`).count(), 1);
	// one marker per report (drawn with the rows; the map may still be laying out)
	await page.waitForFunction(() => document.querySelectorAll('#queue-map path.marker').length === 2, null, { timeout: 5000 });
	await page.selectOption('#f-category', 'park');
	await page.click('#f-submit');
	await page.waitForFunction(() => document.querySelectorAll('#queue-table tbody tr').length === 1);
	assert.equal(await page.locator('#queue-table tbody tr').getAttribute('data-id'), String(ids.park));
	assert.match(page.url(), /category=park/);
	await page.selectOption('#f-category', '');
	await page.selectOption('#f-status', 'closed');
	await page.click('#f-submit');
	await page.waitForSelector('#queue-info.hint >> text=条件に合う通報はありません。');
	await page.selectOption('#f-status', '');
	await page.click('#f-submit');
	await page.waitForFunction(() => document.querySelectorAll('#queue-table tbody tr').length === 2);
	await env.shot(page, 'console-queue.png');
	// keyset paging: one report per page, the next one through "next"
	await page.goto(`${env.base}/console/#/reports?q=${tok}&limit=1`);
	await page.waitForFunction(() => document.querySelectorAll('#queue-table tbody tr').length === 1);
	assert.equal(await page.locator('#queue-table tbody tr').getAttribute('data-id'), String(Math.max(ids.road, ids.park)));
	await page.click('#queue-more');
	await page.waitForFunction(() => document.querySelectorAll('#queue-table tbody tr').length === 2);
	assert.equal(await page.locator('#queue-table tbody tr').nth(1).getAttribute('data-id'), String(Math.min(ids.road, ids.park)));
	await page.goto(`${env.base}/console/#/reports?q=${tok}`);
	await page.waitForFunction(() => document.querySelectorAll('#queue-table tbody tr').length === 2);
	const [download] = await Promise.all([page.waitForEvent('download'), page.click('#csv-download')]);
	assert.equal(download.suggestedFilename(), 'reports.csv');
	const csv = readFileSync(await download.path());
	assert.deepEqual([...csv.subarray(0, 3)], [0xef, 0xbb, 0xbf], 'BOM for Excel');
	const lines = csv.subarray(3).toString('utf8').trimEnd().split('\r\n');
	assert.equal(lines[0], 'id,created_at,status,category,department,title,description,address,lat,lon,visibility,assignee_id');
	assert.deepEqual(lines.slice(1).map((l) => Number(l.split(',')[0])).sort(), [ids.road, ids.park].sort());
	assert.ok(lines.slice(1).every((l) => l.includes(tok)));
	// a refused download says why, next to the button
	await page.goto(`${env.base}/console/#/reports?from=2026-13-45`);
	await page.waitForSelector('#csv-download');
	await page.click('#csv-download');
	await page.waitForSelector('#csv-error:not([hidden])');
	assert.match(await page.locator('#csv-error').textContent(), /from/);
	assert.deepEqual(page.errors.filter((e) => !/status of 400/.test(e)), []);
	await page.context().close();
});

test('a status change offers only the allowed transitions and is recorded', async () => {
	const page = await loggedIn();
	await page.goto(`${env.base}/console/#/reports/${ids.road}`);
	await page.waitForSelector('#status-select');
	const options = await page.locator('#status-select option').evaluateAll((os) => os.map((o) => o.value));
	const allowed = psql("SELECT to_status FROM machi.report_transition WHERE from_status = 'received' ORDER BY 1;").map((r) => r[0]);
	assert.deepEqual([...options].sort(), allowed);
	await page.selectOption('#status-select', 'in_progress');
	await page.fill('#status-note', '現地確認に向かいます');
	await page.click('#status-submit');
	await page.waitForSelector('#detail-status [data-status="in_progress"]');
	await page.waitForSelector('#history li[data-kind="status"]');
	const now = await page.locator('#status-select option').evaluateAll((os) => os.map((o) => o.value));
	assert.ok(!now.includes('in_progress'));
	assert.equal(psql(`SELECT status FROM machi.report WHERE report_id = ${ids.road};`)[0][0], 'in_progress');
	// a public response and an internal note appear in the history
	await page.fill('#response-body', 'ご連絡ありがとうございます。現地を確認します。');
	await page.click('#response-submit');
	await page.waitForSelector('#history li[data-kind="response"]');
	await page.fill('#response-body', '担当: 土木第二班');
	await page.check('#response-internal');
	await page.click('#response-submit');
	await page.waitForSelector('#history li[data-kind="note"] >> text=担当: 土木第二班');
	// not published yet: citizens do not see the report at all
	const pub = await env.api.get(`/v1/reports/${ids.road}`);
	assert.equal(pub.status(), 404, 'still private');
	await env.shot(page, 'console-report.png');
	await page.context().close();
});

test('publishing with redaction: the preview and then the citizen API show the redacted text and photos', async () => {
	const page = await loggedIn();
	await page.goto(`${env.base}/console/#/reports/${ids.park}`);
	await page.waitForSelector('#publish-card');
	const redacted = `ブランコの鎖が切れています。（個人情報を削除しました） ${tok}`;
	await page.fill('#public-description', redacted);
	await page.check('.hide-photo[data-n="2"]');
	assert.equal(await page.locator('#preview-description').textContent(), redacted);
	assert.equal(await page.locator('#publish-preview img').count(), 1);
	await page.locator('#publish-card').scrollIntoViewIfNeeded();
	await env.shot(page, 'console-publish.png');
	await page.click('#publish-submit');
	await page.waitForSelector('#detail-done >> text=公開しました。');
	await page.waitForFunction(() => document.querySelector('#publish-state')?.textContent.includes('公開されています'));
	// the citizen's view, without any credentials
	const anon = await env.api.get(`/v1/reports/${ids.park}`, { headers: { Cookie: '' } });
	assert.equal(anon.status(), 200);
	const pub = (await anon.json()).report;
	assert.equal(pub.description, redacted);
	assert.ok(!JSON.stringify(pub).includes('090-1234-5678'));
	assert.deepEqual(pub.photos.map((p) => p.n), [1]);
	assert.equal((await env.api.get(`/v1/reports/${ids.park}/photos/2`)).status(), 404);
	// staff still see the original
	assert.match(await page.locator('#detail-description').textContent(), /090-1234-5678/);
	assert.deepEqual(page.errors, [], 'no script error and no Content-Security-Policy violation');
	await page.context().close();
});

test('a tenant admin creates a staff account and sees the initial password once', async () => {
	const page = await loggedIn();
	await page.click('nav a[data-nav="admin"]');
	await page.waitForSelector('#staff-create');
	const email = `${token('new')}@example.jp`;
	await page.fill('#new-email', email);
	await page.fill('#new-name', '新人 花子');
	await page.selectOption('#new-role', 'staff');
	await page.click('#new-submit');
	const pw = (await page.locator('#initial-password').textContent()).trim();
	assert.ok(pw.length >= 10);
	await page.waitForSelector(`#staff-table td.email >> text=${email}`);
	await env.shot(page, 'console-admin.png', ['#initial-password']);
	// shown once: drawing the page again does not show it
	await page.click('nav a[data-nav="top"]');
	await page.click('nav a[data-nav="admin"]');
	await page.waitForSelector('#staff-create');
	assert.equal(await page.locator('#initial-password').count(), 0);
	const [[role, must]] = psql(`SELECT a.role_name, a.must_change_password FROM machi.account a WHERE a.account_id = (SELECT max(account_id) FROM machi.account WHERE tenant_id = 12101 AND kind = 'staff');`);
	assert.deepEqual([role, must], ['staff', 't']);
	const login = await env.api.post('/v1/auth/login', { data: { email, password: pw } });
	assert.equal(login.status(), 200);
	assert.equal((await login.json()).account.must_change_password, true);
	// the idle timeout of the municipality
	await page.fill('#idle-minutes', '45');
	await page.click('#idle-submit');
	await page.waitForSelector('#timeout-card .result.ok');
	assert.equal(psql('SELECT staff_idle_timeout FROM machi.tenant WHERE tenant_id = 12101;')[0][0], '00:45:00');
	psql("SELECT machi.update_tenant(12101, staff_idle_timeout => '30 minutes');");
	await page.context().close();
});

test('staff of one municipality cannot open another municipality\'s report by editing the URL', async () => {
	const page = await loggedIn();
	await page.goto(`${env.base}/console/#/reports/${ids.inage}`);
	await page.waitForSelector('#detail-error');
	assert.match(await page.locator('#detail-error').textContent(), /見つかりません/);
	assert.ok(!(await page.content()).includes('稲毛区の非公開の通報'));
	// and the queue never lists it
	await page.goto(`${env.base}/console/#/reports?q=${tok}`);
	await page.waitForSelector(`#queue-table tr[data-id="${ids.park}"]`);
	assert.equal(await page.locator(`#queue-table tr[data-id="${ids.inage}"]`).count(), 0);
	// while Inage's own staff can
	const inage = await env.staff(12103, 'staff');
	const other = await env.page();
	await env.login(other, inage.email, inage.password);
	await other.waitForSelector('#notices');
	await other.goto(`${env.base}/console/#/reports/${ids.inage}`);
	await other.waitForSelector('#detail-title');
	assert.match(await other.locator('#detail-title').textContent(), /稲毛区の非公開の通報/);
	await other.context().close();
	await page.context().close();
});

test('the console switches to English and keeps only the language in localStorage', async () => {
	const page = await loggedIn();
	await page.click('#lang-switch');
	await page.waitForSelector('nav a[data-nav="queue"] >> text=Reports');
	const stored = await page.evaluate(() => Object.keys(localStorage).map((k) => [k, localStorage.getItem(k)]));
	assert.deepEqual(stored, [['machi.console.lang', 'en']]);
	assert.deepEqual(await page.evaluate(() => Object.keys(sessionStorage)), []);
	await page.click('#logout');
	await page.waitForSelector('#login-flash >> text=You have logged out.');
	await page.context().close();
});
