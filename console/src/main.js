// main.js: the shell (header, navigation, idle warning) and the hash router.
import { h, replace } from './dom.js';
import { t, getLang, setLang } from './i18n.js';
import { get, onActivity, onAuthLost, hasSession } from './api.js';
import { session, isAdmin, logout, end, idle, start } from './session.js';
import { loginView, forgotView, resetView, passwordView } from './views/auth.js';
import { topView } from './views/top.js';
import { queueView } from './views/queue.js';
import { detailView } from './views/detail.js';
import { adminView } from './views/admin.js';
import { loadConfig } from './config.js';

const app = document.getElementById('app');
const ui = { flash: null, banner: null, main: null };

// the message shown on the next login page (idle logout, expiry, logout)
export function flashLogin(key) { ui.flash = key; }
export function takeFlash() { const f = ui.flash; ui.flash = null; return f; }

export function navigate(hash) {
	if (location.hash === hash) route();
	else location.hash = hash;
}

// parse "#/reports/12?x=1" into {path: ['reports', '12'], query: URLSearchParams}
function parseHash() {
	const raw = location.hash.replace(/^#/, '') || '/';
	const [p, q] = raw.split('?');
	return { path: p.split('/').filter(Boolean), query: new URLSearchParams(q || '') };
}

export async function loadContext() {
	const tenant = await get('/v1/admin/tenant');
	session.tenant = tenant.tenant;
	session.idleMinutes = tenant.staff_idle_timeout_minutes || 30;
	const cats = await get(`/v1/tenants/${encodeURIComponent(session.account.tenant_id)}/categories`);
	session.categories = cats.categories;
	const depts = new Map();
	for (const c of cats.categories) depts.set(c.department.id, c.department);
	session.departments = [...depts.values()].sort((a, b) => a.id - b.id);
	try {
		session.staff = (await get('/v1/admin/staff')).staff;
	} catch {
		session.staff = null;	// roles without account:read
	}
	idle.touch();
}

function header() {
	const nav = h('nav', { class: 'nav' },
		h('a', { href: '#/', 'data-nav': 'top' }, t('nav.top')),
		h('a', { href: '#/reports', 'data-nav': 'queue' }, t('nav.queue')),
		isAdmin() ? h('a', { href: '#/admin', 'data-nav': 'admin' }, t('nav.admin')) : null,
		h('a', { href: '#/password', 'data-nav': 'password' }, t('nav.password')));
	return h('header', { class: 'top' },
		h('span', { class: 'brand' }, t('app.title')),
		session.tenant ? h('span', { class: 'tenant', id: 'tenant-name' }, session.tenant.name) : null,
		session.account && !session.account.must_change_password ? nav : null,
		h('span', { class: 'spacer' }),
		session.email ? h('span', { class: 'who' }, session.email) : null,
		h('button', { type: 'button', class: 'link', id: 'lang-switch', onclick: () => {
			setLang(getLang() === 'ja' ? 'en' : 'ja');
			route();
		} }, t('lang.switch')),
		session.account ? h('button', { type: 'button', id: 'logout', onclick: async () => {
			await logout();
			flashLogin('login.loggedOut');
			navigate('#/login');
		} }, t('nav.logout')) : null);
}

function idleBanner() {
	ui.banner = h('div', { class: 'idle-warning', id: 'idle-warning', role: 'alert', hidden: true });
	return ui.banner;
}

idle.onWarn = (seconds) => {
	if (!ui.banner) return;
	replace(ui.banner, h('span', {}, t('idle.warning', { seconds })), ' ',
		h('button', { type: 'button', id: 'idle-stay', onclick: () => get('/v1/me').catch(() => {}) }, t('idle.stay')));
	ui.banner.hidden = false;
};
idle.onClear = () => { if (ui.banner) ui.banner.hidden = true; };
idle.onExpire = async () => {
	await logout();
	flashLogin('login.idle');
	navigate('#/login');
};
onActivity(() => { if (session.account) idle.touch(); });
onAuthLost((e) => {
	if (!session.account) return;
	end();
	flashLogin(e.code === 'session_idle_timeout' ? 'login.idle' : 'login.expired');
	navigate('#/login');
});

const publicRoutes = { login: loginView, forgot: forgotView, reset: resetView };

let generation = 0;
async function route() {
	const my = ++generation;
	document.documentElement.lang = getLang();
	document.title = t('app.title');
	const { path, query } = parseHash();
	const name = path[0] || '';
	const main = h('main', { id: 'main' });
	replace(app, header(), idleBanner(), main);
	ui.main = main;
	const ctx = { main, query, path, isCurrent: () => my === generation };
	try {
		if (publicRoutes[name] && !session.account) return await publicRoutes[name](ctx);
		if (!session.account) {
			if (name && name !== 'login') ctx.after = location.hash;
			return await loginView(ctx);
		}
		if (session.account.must_change_password || name === 'password') return await passwordView(ctx);
		if (name === 'reports' && path[1]) return await detailView(ctx, path[1]);
		if (name === 'reports') return await queueView(ctx);
		if (name === 'admin') return await adminView(ctx, path[1] || 'staff');
		return await topView(ctx);
	} catch (e) {
		if (!ctx.isCurrent()) return;
		replace(main, h('p', { class: 'error', role: 'alert' }, t('common.error', { message: e.message })));
	}
}

// After a reload the page has lost the CSRF token, which lives in memory
// only; the HttpOnly cookie still names the session.  GET /v1/auth/session
// answers a cookie-authenticated request with the session's account and its
// CSRF token, so the console carries on where it was.
async function resume() {
	let s;
	try {
		s = await get('/v1/auth/session');
	} catch {
		return;		// no session (401), or it ended
	}
	if (!s.csrf_token || s.account.kind !== 'staff') return;
	start(s, null);
	try {
		if (!s.account.must_change_password) {
			session.email = (await get('/v1/me')).profile?.email ?? null;
			await loadContext();
		}
	} catch {
		end();
		flashLogin('login.expired');
	}
}

async function boot() {
	await loadConfig();
	if (!hasSession()) await resume();
	window.addEventListener('hashchange', route);
	route();
}

boot();
