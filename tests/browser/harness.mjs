// harness.mjs: the browser suite's fixtures: a real machi-gateway serving
// console/dist on 127.0.0.1 in front of a real database with the extension
// and the demo tenants (PGHOST/PGPORT, database MACHI_BROWSER_DB, default
// machi_e2e, as scripts/e2e.sh leaves it), Debian's chromium driven by
// playwright-core, and helpers that create staff, citizens and reports.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, openSync, readFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { createServer } from 'node:net';
import { randomBytes } from 'node:crypto';
import { deflateSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';

const require = createRequire(join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'console', 'package.json'));
const { chromium, request } = require('playwright-core');

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const DB = process.env.MACHI_BROWSER_DB || 'machi_e2e';
export const SCREENSHOTS = process.env.MACHI_SCREENSHOTS || '';
const CHROMIUM = process.env.MACHI_CHROMIUM || '/usr/bin/chromium';

// a short unique word for this run, so that tests find their own data
export function token(prefix = 'bt') {
	return prefix + randomBytes(4).toString('hex');
}

// psql(sql): run SQL as the superuser; the rows as arrays of strings
export function psql(sql) {
	const out = execFileSync('psql', ['-X', '-q', '-At', '-F', '\t', '-v', 'ON_ERROR_STOP=1', '-d', DB, '-f', '-'],
		{ input: sql, encoding: 'utf8', env: { ...process.env, PGUSER: process.env.PGUSER || 'postgres' }, timeout: 30000 });
	return out.split('\n').filter((l) => l !== '').map((l) => l.split('\t'));
}

export const lit = (s) => "'" + String(s).replace(/'/g, "''") + "'";

function freePort() {
	return new Promise((resolve, reject) => {
		const s = createServer();
		s.once('error', reject);
		s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
	});
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export class Env {
	async start() {
		if (!process.env.PGHOST) throw new Error('PGHOST/PGPORT must name the cluster with the machi database');
		this.dir = mkdtempSync(join(tmpdir(), 'machi-browser-'));
		execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
			'-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
			'-keyout', join(this.dir, 'key.pem'), '-out', join(this.dir, 'cert.pem')], { stdio: 'ignore', timeout: 30000 });
		this.port = await freePort();
		this.base = `https://127.0.0.1:${this.port}`;
		const log = openSync(join(this.dir, 'gateway.log'), 'a');
		const conninfo = `host=${process.env.PGHOST} port=${process.env.PGPORT || 5432} dbname=${DB} user=machi_gateway`;
		this.gateway = spawn(join(ROOT, 'gateway', 'machi-gateway'), ['--listen', `127.0.0.1:${this.port}`,
			'--tls-cert', join(this.dir, 'cert.pem'), '--tls-key', join(this.dir, 'key.pem'), '--conninfo', conninfo,
			'--threads', '2', '--db-connections', '4', '--access-log', join(this.dir, 'access.log'),
			'--static-dir', join(ROOT, 'console', 'dist')], { stdio: ['ignore', log, log] });
		this.api = await request.newContext({ baseURL: this.base, ignoreHTTPSErrors: true });
		for (let i = 0; ; i++) {
			try {
				if ((await this.api.get('/v1/health')).ok()) break;
			} catch { /* not listening yet */ }
			if (i > 100 || this.gateway.exitCode !== null) throw new Error('gateway did not start: ' + this.gatewayLog());
			await sleep(100);
		}
		this.browser = await chromium.launch({
			executablePath: CHROMIUM, headless: true, timeout: 30000,
			args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
				'--disable-background-networking', '--disable-component-update', '--disable-sync'],
		});
		return this;
	}

	gatewayLog() {
		try { return readFileSync(join(this.dir, 'gateway.log'), 'utf8'); } catch { return ''; }
	}

	// a fresh browser context (own cookies) on the console, without map tiles
	async page() {
		const context = await this.browser.newContext({ ignoreHTTPSErrors: true, locale: 'ja-JP', timezoneId: 'Asia/Tokyo',
			acceptDownloads: true, viewport: { width: 1366, height: 900 } });
		await context.route('**/console/config.json', (route) => route.fulfill({ contentType: 'application/json',
			body: JSON.stringify({ tileUrl: '', mapCenter: [35.6, 140.11], mapZoom: 11 }) }));
		// nothing may leave loopback
		await context.route((url) => url.hostname !== '127.0.0.1', (route) => route.abort());
		const page = await context.newPage();
		page.errors = [];
		page.on('pageerror', (e) => page.errors.push(String(e)));
		page.on('console', (m) => { if (m.type() === 'error') page.errors.push(m.text()); });
		page.setDefaultTimeout(15000);
		await page.goto(this.base + '/console/');
		await page.waitForSelector('#login-form');
		page.errors.length = 0;	// the probe for a leftover session answers 401
		return page;
	}

	async login(page, email, password) {
		await page.fill('#login-email', email);
		await page.fill('#login-password', password);
		await page.click('#login-submit');
	}

	// a new page logged in as s, on the top page
	async loggedIn(s) {
		const page = await this.page();
		await this.login(page, s.email, s.password);
		await page.waitForSelector('#notices');
		return page;
	}

	// a staff member; ready: the initial password already changed to the returned one
	async staff(tenant, role = 'tenant_admin', { ready = true, departments = null } = {}) {
		const email = `${token('staff')}@example.jp`;
		const depts = departments ? `ARRAY[${departments.join(',')}]::bigint[]` : 'NULL';
		const [[id, initial]] = psql(`SELECT account_id, initial_password FROM machi.create_staff(${tenant}, ${lit(email)}, ${lit('試験 職員')}, ${lit(role)}, ${depts}, NULL);`);
		const s = { id: Number(id), email, password: initial, tenant };
		if (ready) {
			const login = await this.api.post('/v1/auth/login', { data: { email, password: initial } });
			const { token: bearer } = await login.json();
			const pw = `${token('pw')} 青い 自転車 ${randomBytes(6).toString('hex')}`;
			const res = await this.api.post('/v1/auth/password/change', { headers: { Authorization: `Bearer ${bearer}` },
				data: { current_password: initial, new_password: pw } });
			if (!res.ok()) throw new Error('password change failed: ' + await res.text());
			await this.api.post('/v1/auth/logout', { headers: { Authorization: `Bearer ${bearer}` } });
			s.password = pw;
		}
		return s;
	}

	// a verified citizen account (no password: reports are posted through act_as)
	citizen() {
		const [[id]] = psql("INSERT INTO machi.account (kind, tenant_id, role_name, email_verified_at) VALUES ('citizen', NULL, 'citizen', now()) RETURNING account_id;");
		return Number(id);
	}

	// post a report as a citizen through the real API function; returns its id
	report(citizen, fields) {
		const body = JSON.stringify(fields);
		const [[status, out]] = psql(`BEGIN;
SELECT machi.act_as(${citizen}, 'browser test fixture') \\g /dev/null
SELECT h.status, convert_from(h.body, 'UTF8') FROM api.handle('POST', '/v1/reports', '', '{"content-type": "application/json"}', convert_to(${lit(body)}, 'UTF8'), '127.0.0.1', 'browser-test') h;
COMMIT;`);
		if (status !== '201') throw new Error('report: ' + out);
		return JSON.parse(out).report.id;
	}

	photo(citizen, reportId, png) {
		const [[status, out]] = psql(`BEGIN;
SELECT machi.act_as(${citizen}, 'browser test fixture') \\g /dev/null
SELECT h.status, convert_from(h.body, 'UTF8') FROM api.handle('POST', '/v1/reports/${reportId}/photos', '', '{"content-type": "image/png"}', decode('${png.toString('hex')}', 'hex'), '127.0.0.1', 'browser-test') h;
COMMIT;`);
		if (status !== '201') throw new Error('photo: ' + out);
	}

	// mask: selectors covered by a box (passwords shown on screen)
	async shot(page, name, mask = []) {
		if (!SCREENSHOTS) return;
		mkdirSync(SCREENSHOTS, { recursive: true });
		await page.waitForTimeout(300);	// let the map settle
		await page.screenshot({ path: join(SCREENSHOTS, name), fullPage: true, mask: mask.map((m) => page.locator(m)) });
	}

	async stop() {
		await this.browser?.close().catch(() => {});
		await this.api?.dispose().catch(() => {});
		if (this.gateway && this.gateway.exitCode === null) {
			this.gateway.kill('SIGTERM');
			await Promise.race([new Promise((r) => this.gateway.once('exit', r)), sleep(5000)]);
		}
		if (this.dir) rmSync(this.dir, { recursive: true, force: true });
	}
}

function crc32(buf) {
	let c = ~0;
	for (const b of buf) {
		c ^= b;
		for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
	}
	return ~c >>> 0;
}

// a small solid-colour PNG (w x h), made here so that no binary is committed
export function png(w, h, [r, g, b]) {
	const chunk = (type, data) => {
		const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
		const td = Buffer.concat([Buffer.from(type), data]);
		const crc = Buffer.alloc(4); crc.writeUInt32BE(crc32(td) >>> 0);
		return Buffer.concat([len, td, crc]);
	};
	const ihdr = Buffer.alloc(13);
	ihdr.writeUInt32BE(w, 0); ihdr.writeUInt32BE(h, 4);
	ihdr[8] = 8; ihdr[9] = 2; ihdr[10] = 0; ihdr[11] = 0; ihdr[12] = 0;
	const row = Buffer.alloc(1 + w * 3);
	for (let x = 0; x < w; x++) { row[1 + 3 * x] = r; row[2 + 3 * x] = g; row[3 + 3 * x] = b; }
	const raw = Buffer.concat(Array.from({ length: h }, () => row));
	return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr),
		chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

// positions inside the demo municipalities
export const CHUO = { lat: 35.6073, lon: 140.1063 };		// 12101 千葉市中央区
export const INAGE = { lat: 35.6376, lon: 140.0924 };		// 12103 千葉市稲毛区
