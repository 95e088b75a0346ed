// Idle logout: a tenant with a one-minute staff idle timeout.  Runs beside
// console.test.mjs (it waits about a minute).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Env, psql } from './harness.mjs';

const env = new Env();
const TENANT = 12106;	// 千葉市美浜区, used by no other browser test

before(async () => {
	await env.start();
	psql(`SELECT machi.update_tenant(${TENANT}, staff_idle_timeout => '1 minute');`);
});

after(async () => {
	psql(`SELECT machi.update_tenant(${TENANT}, staff_idle_timeout => '30 minutes');`);
	await env.stop();
});

test('an idle session is warned a minute before, then logged out with a message on the login page', async () => {
	const s = await env.staff(TENANT, 'staff');
	const page = await env.page();
	await env.login(page, s.email, s.password);
	await page.waitForSelector('#notices');
	await page.waitForSelector('#idle-warning:not([hidden])', { timeout: 10000 });
	assert.match(await page.locator('#idle-warning').textContent(), /自動的にログアウト/);
	await page.waitForSelector('#login-flash', { timeout: 75000 });
	assert.match(await page.locator('#login-flash').textContent(), /一定時間操作がなかった/);
	// the session is gone on the server too
	const left = psql(`SELECT count(*) FROM machi.session WHERE account_id = ${s.id} AND revoked_at IS NULL AND last_seen_at > now() - interval '1 minute';`);
	assert.equal(left[0][0], '0');
	await page.context().close();
});
