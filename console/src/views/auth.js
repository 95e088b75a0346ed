// auth.js: login, forgotten password, reset, password change.
import { h, replace, field } from '../dom.js';
import { t } from '../i18n.js';
import { post } from '../api.js';
import { session, start, logout } from '../session.js';
import { navigate, takeFlash, flashLogin, loadContext } from '../main.js';

function errorBox() {
	return h('div', { class: 'error', role: 'alert', hidden: true });
}

function showError(box, e) {
	const lines = [h('p', { class: 'message' }, e.message)];
	if (e.detail) lines.push(h('p', { class: 'detail' }, e.detail));
	if (e.supportId) lines.push(h('p', { class: 'detail' }, t('common.support', { id: e.supportId })));
	replace(box, lines);
	box.hidden = false;
}

export async function loginView(ctx) {
	const flash = takeFlash();
	const email = h('input', { type: 'email', name: 'email', id: 'login-email', autocomplete: 'username', required: true });
	const password = h('input', { type: 'password', name: 'password', id: 'login-password', autocomplete: 'current-password', required: true });
	const err = errorBox();
	err.id = 'login-error';
	const button = h('button', { type: 'submit', id: 'login-submit' }, t('login.submit'));
	const form = h('form', { class: 'card narrow', id: 'login-form', onsubmit: async (ev) => {
		ev.preventDefault();
		err.hidden = true;
		button.disabled = true;
		try {
			const body = await post('/v1/auth/login', { email: email.value, password: password.value, cookie: true });
			if (body.account.kind !== 'staff') {
				start(body, email.value);
				await logout();
				showError(err, { message: t('login.notStaff') });
				return;
			}
			start(body, email.value);
			if (body.account.must_change_password) return navigate('#/password');
			await loadContext();
			navigate(ctx.after && !ctx.after.startsWith('#/login') ? ctx.after : '#/');
		} catch (e) {
			password.value = '';
			showError(err, e);	// the server's one generic message
		} finally {
			button.disabled = false;
		}
	} },
		h('h1', {}, t('login.heading')),
		flash ? h('p', { class: 'flash', id: 'login-flash', role: 'status' }, t(flash)) : null,
		field(t('login.email'), email),
		field(t('login.password'), password),
		err,
		h('div', { class: 'actions' }, button),
		h('p', {}, h('a', { href: '#/forgot', id: 'forgot-link' }, t('login.forgot'))));
	replace(ctx.main, form);
	email.focus();
}

export async function forgotView(ctx) {
	const email = h('input', { type: 'email', id: 'forgot-email', required: true, autocomplete: 'username' });
	const err = errorBox();
	const done = h('p', { class: 'flash', id: 'forgot-done', role: 'status', hidden: true });
	replace(ctx.main, h('form', { class: 'card narrow', onsubmit: async (ev) => {
		ev.preventDefault();
		err.hidden = true;
		try {
			const body = await post('/v1/auth/password/forgot', { email: email.value });
			done.textContent = t('forgot.sent');
			done.title = body.message || '';
			done.hidden = false;
		} catch (e) { showError(err, e); }
	} },
		h('h1', {}, t('forgot.heading')),
		h('p', {}, t('forgot.intro')),
		field(t('login.email'), email),
		err, done,
		h('div', { class: 'actions' }, h('button', { type: 'submit', id: 'forgot-submit' }, t('forgot.submit'))),
		h('p', {}, h('a', { href: '#/reset' }, t('reset.heading')), ' · ', h('a', { href: '#/login' }, t('forgot.back')))));
}

function rules() {
	return h('section', { class: 'rules', id: 'password-rules' },
		h('h2', {}, t('pw.rules')),
		h('ul', {}, ['pw.rule.length', 'pw.rule.login', 'pw.rule.strength', 'pw.rule.any'].map((k) => h('li', {}, t(k)))));
}

export async function resetView(ctx) {
	const token = h('input', { type: 'text', id: 'reset-token', required: true, value: ctx.query.get('token') || '' });
	const pw = h('input', { type: 'password', id: 'reset-password', required: true, autocomplete: 'new-password' });
	const err = errorBox();
	replace(ctx.main, h('form', { class: 'card narrow', onsubmit: async (ev) => {
		ev.preventDefault();
		err.hidden = true;
		try {
			await post('/v1/auth/password/reset', { token: token.value, password: pw.value });
			flashLogin('reset.done');
			navigate('#/login');
		} catch (e) { showError(err, e); }
	} },
		h('h1', {}, t('reset.heading')), rules(),
		field(t('reset.token'), token), field(t('pw.new'), pw), err,
		h('div', { class: 'actions' }, h('button', { type: 'submit' }, t('reset.submit'))),
		h('p', {}, h('a', { href: '#/login' }, t('forgot.back')))));
}

export async function passwordView(ctx) {
	const forced = session.account.must_change_password;
	const cur = h('input', { type: 'password', id: 'pw-current', required: true, autocomplete: 'current-password' });
	const pw = h('input', { type: 'password', id: 'pw-new', required: true, autocomplete: 'new-password' });
	const pw2 = h('input', { type: 'password', id: 'pw-confirm', required: true, autocomplete: 'new-password' });
	const err = errorBox();
	err.id = 'pw-error';
	replace(ctx.main, h('form', { class: 'card narrow', id: 'password-form', onsubmit: async (ev) => {
		ev.preventDefault();
		err.hidden = true;
		if (pw.value !== pw2.value) return showError(err, { message: t('pw.mismatch') });
		try {
			await post('/v1/auth/password/change', { current_password: cur.value, new_password: pw.value });
			session.account.must_change_password = false;
			await loadContext();
			navigate('#/');
		} catch (e) {
			if (e.status === 401) return;
			showError(err, { message: `${t('pw.serverSays')} ${e.message}`, detail: e.detail });
		}
	} },
		h('h1', {}, t('pw.heading')),
		forced ? h('p', { class: 'flash', id: 'pw-forced' }, t('pw.forced')) : null,
		rules(),
		field(t('pw.current'), cur), field(t('pw.new'), pw), field(t('pw.confirm'), pw2),
		err,
		h('div', { class: 'actions' }, h('button', { type: 'submit', id: 'pw-submit' }, t('pw.submit')))));
}
