// admin.js: tenant administration: the sections' navigation, and the
// staff section (accounts, roles, idle timeout).
import { h, replace, option, field } from '../dom.js';
import { t, label, dateTime, ROLES } from '../i18n.js';
import { get, post, patch } from '../api.js';
import { session, isAdmin } from '../session.js';
import { errorText, outcome } from './common.js';
import { departmentsView, categoriesView } from './admin_catalogue.js';
import { keysView, exportsView } from './admin_keys.js';
import { auditView } from './audit.js';

const SECTIONS = {
	staff: staffView,
	departments: departmentsView,
	categories: categoriesView,
	keys: keysView,
	exports: exportsView,
	audit: auditView,
};

// the sections of #/admin/<section>, the current one marked
export function adminNav(current) {
	return h('nav', { class: 'subnav', id: 'admin-nav', 'aria-label': t('admin.heading') },
		Object.keys(SECTIONS).map((k) => h('a', { href: k === 'staff' ? '#/admin' : `#/admin/${k}`, 'data-section': k,
			'aria-current': k === current ? 'page' : null }, t(`admin.section.${k}`))));
}

export async function adminView(ctx, section) {
	if (!isAdmin()) {
		replace(ctx.main, h('h1', {}, t('admin.heading')), h('p', { class: 'error' }, t('admin.onlyAdmins')));
		return;
	}
	const view = SECTIONS[section] || staffView;
	await view(ctx, adminNav(SECTIONS[section] ? section : 'staff'));
}

async function staffView(ctx, nav) {
	const [staffBody, tenantBody] = await Promise.all([get('/v1/admin/staff'), get('/v1/admin/tenant')]);
	if (!ctx.isCurrent()) return;
	session.staff = staffBody.staff;
	session.idleMinutes = tenantBody.staff_idle_timeout_minutes;
	const created = h('div', { id: 'staff-created', role: 'status' });
	replace(ctx.main, h('h1', {}, t('admin.heading')), nav,
		h('section', { class: 'card', id: 'staff-card' }, h('h2', {}, t('admin.staff')), created,
			staffTable(staffBody.staff), createForm(created)),
		timeoutForm(tenantBody.staff_idle_timeout_minutes));
}

function roleSelect(id, current) {
	return h('select', { id }, ROLES.map((r) => option(r, label('role', r), r === current)));
}

function staffTable(staff) {
	return h('table', { class: 'staff', id: 'staff-table' },
		h('thead', {}, h('tr', {}, ['admin.name', 'admin.email', 'admin.role', 'admin.state', 'admin.lastLogin', ''].map((k) => h('th', {}, k ? t(k) : '')))),
		h('tbody', {}, staff.map((s) => {
			const role = roleSelect(`role-${s.id}`, s.role);
			const line = h('span', { class: 'result', role: 'status' });
			const self = s.id === session.account.id;
			const act = async (body) => {
				outcome(line);	// the last outcome goes away at once
				try {
					await patch(`/v1/admin/staff/${s.id}`, body);
					outcome(line, 'ok', t('common.saved'));
					window.dispatchEvent(new HashChangeEvent('hashchange'));
				} catch (e) {
					outcome(line, 'error', errorText(e));
				}
			};
			return h('tr', { 'data-id': String(s.id) },
				h('td', {}, s.name ?? ''),
				h('td', { class: 'email' }, s.email ?? ''),
				h('td', {}, self ? label('role', s.role) : role),
				h('td', {}, label('state', s.locked ? 'locked' : s.state, s.state),
					s.must_change_password ? h('span', { class: 'hint' }, ` (${t('admin.mustChange')})`) : null),
				h('td', {}, dateTime(s.last_login_at)),
				h('td', {}, self ? null : [
					h('button', { type: 'button', class: 'secondary', onclick: () => act({ role: role.value }) }, t('admin.changeRole')), ' ',
					h('button', { type: 'button', class: 'secondary', onclick: () => act({ state: s.state === 'active' ? 'disabled' : 'active' }) },
						t(s.state === 'active' ? 'admin.disable' : 'admin.enable')),
					' ', line]));
		})));
}

function createForm(created) {
	const email = h('input', { type: 'email', id: 'new-email', required: true, autocomplete: 'off' });
	const name = h('input', { type: 'text', id: 'new-name', required: true, maxlength: '100' });
	const role = roleSelect('new-role', 'staff');
	const depts = session.departments.map((d) => ({ d, box: h('input', { type: 'checkbox', class: 'new-dept', value: String(d.id) }) }));
	const line = h('p', { class: 'result', role: 'status', hidden: true });
	return h('form', { class: 'create', id: 'staff-create', onsubmit: async (ev) => {
		ev.preventDefault();
		outcome(line);
		try {
			const body = await post('/v1/admin/staff', { email: email.value, name: name.value, role: role.value,
				department_ids: depts.filter((x) => x.box.checked).map((x) => Number(x.d.id)) });
			// shown once: this screen is the only place the initial password appears
			replace(created, h('div', { class: 'once' },
				h('p', {}, t('admin.created', { name: body.staff.name ?? body.staff.email })),
				h('p', {}, t('admin.initialPassword'), ': ', h('code', { id: 'initial-password' }, body.initial_password))));
			const list = await get('/v1/admin/staff');
			session.staff = list.staff;
			const table = document.getElementById('staff-table');
			if (table) table.replaceWith(staffTable(list.staff));
			email.value = '';
			name.value = '';
		} catch (e) {
			outcome(line, 'error', errorText(e));
		}
	} },
	h('h3', {}, t('admin.create')),
	field(t('admin.email'), email), field(t('admin.name'), name), field(t('admin.role'), role),
	depts.length ? h('fieldset', {}, h('legend', {}, t('admin.departments')),
		depts.map((x) => h('label', { class: 'check' }, x.box, ' ', x.d.name))) : null,
	line, h('div', { class: 'actions' }, h('button', { type: 'submit', id: 'new-submit' }, t('admin.create'))));
}

function timeoutForm(minutes) {
	const input = h('input', { type: 'number', id: 'idle-minutes', min: '1', max: '1440', value: String(minutes), required: true });
	const line = h('p', { class: 'result', role: 'status', hidden: true });
	return h('section', { class: 'card', id: 'timeout-card' }, h('h2', {}, t('admin.timeout')),
		h('form', { onsubmit: async (ev) => {
			ev.preventDefault();
			outcome(line);	// the last outcome goes away at once
			try {
				const body = await patch('/v1/admin/tenant', { staff_idle_timeout_minutes: Number(input.value) });
				session.idleMinutes = body.staff_idle_timeout_minutes;
				outcome(line, 'ok', t('common.saved'));
			} catch (e) {
				outcome(line, 'error', errorText(e));
			}
		} }, field(t('admin.timeoutMinutes'), input), line,
		h('div', { class: 'actions' }, h('button', { type: 'submit', id: 'idle-submit' }, t('common.save')))));
}
