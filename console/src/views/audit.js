// audit.js: the audit trail of the municipality for its administrators
// (GET /v1/admin/audit): who did what, when, from where; filters kept in the
// URL, keyset paging with "next".
import { h, replace, option, field } from '../dom.js';
import { t, label, dateTime } from '../i18n.js';
import { get, qs } from '../api.js';
import { session } from '../session.js';
import { navigate } from '../main.js';
import { errorText } from './common.js';
import { apiFilters } from './queue.js';

const FILTERS = ['account', 'report', 'type', 'from', 'to'];
const AUDIT_TYPES = ['row', 'api_call', 'export', 'pii_disclosure', 'role_changed', 'account_locked',
	'account_unlocked', 'permission_denied', 'act_as'];

function who(id) {
	if (id == null) return '';
	const s = (session.staff || []).find((x) => x.id === id);
	return s ? `${s.name || s.email} (#${id})` : `#${id}`;
}

// what an entry is about, in one line: a row change, an API call, an event
function what(e) {
	if (e.event === 'row') return `${label('audit.op', e.op, e.op)} ${e.table ?? ''} ${e.key ? JSON.stringify(e.key) : ''}`;
	if (e.event === 'api_call' && e.detail) return `${e.detail.method ?? ''} ${e.detail.path ?? ''} → ${e.detail.status ?? ''}`;
	return '';
}

// the detail as recorded (personal fields appear only as "redacted"/"changed")
function detail(e) {
	if (!e.detail || e.event === 'api_call') return '';
	const s = JSON.stringify(e.detail);
	return s.length > 300 ? s.slice(0, 300) + '…' : s;
}

function entryRow(e) {
	return h('tr', { 'data-id': String(e.id), 'data-event': e.event, 'data-table': e.table ?? '' },
		h('td', {}, dateTime(e.at)),
		h('td', {}, who(e.account_id), e.act_as ? h('span', { class: 'hint' }, ` ${t('audit.actAs')}`) : null),
		h('td', {}, e.role ? label('role', e.role, e.role) : ''),
		h('td', {}, label('audit.type', e.event, e.event)),
		h('td', { class: 'what' }, what(e)),
		h('td', { class: 'audit-detail' }, detail(e)),
		h('td', {}, e.client_addr ?? ''),
		h('td', { class: 'request-id' }, e.request_id ?? ''));
}

export async function auditView(ctx, nav) {
	const q = ctx.query;
	const account = h('select', { id: 'a-account' }, option('', t('common.all'), !q.get('account')),
		(session.staff || []).map((s) => option(s.id, `${s.name || s.email} (#${s.id})`, q.get('account') === String(s.id))));
	const report = h('input', { type: 'number', id: 'a-report', min: '1', value: q.get('report') || '' });
	const type = h('select', { id: 'a-type' }, option('', t('common.all'), !q.get('type')),
		AUDIT_TYPES.map((x) => option(x, label('audit.type', x, x), q.get('type') === x)));
	const from = h('input', { type: 'date', id: 'a-from', value: q.get('from') || '' });
	const to = h('input', { type: 'date', id: 'a-to', value: q.get('to') || '' });
	const controls = { account, report, type, from, to };
	const form = h('form', { class: 'filters card', id: 'audit-filters', onsubmit: (ev) => {
		ev.preventDefault();
		const p = new URLSearchParams();
		for (const [k, el] of Object.entries(controls)) if (el.value) p.set(k, el.value);
		navigate('#/admin/audit' + (p.toString() ? '?' + p : ''));
	} },
	field(t('audit.account'), account), field(t('audit.report'), report), field(t('audit.type'), type),
	field(t('audit.from'), from, t('audit.fromHint')), field(t('audit.to'), to),
	h('div', { class: 'actions' },
		h('button', { type: 'submit', id: 'a-submit' }, t('common.search')),
		h('button', { type: 'button', class: 'secondary', onclick: () => navigate('#/admin/audit') }, t('common.reset'))));
	const tbody = h('tbody', {});
	const info = h('p', { class: 'hint', id: 'audit-info' }, t('common.loading'));
	const more = h('button', { type: 'button', id: 'audit-more', class: 'secondary', hidden: true }, t('queue.more'));
	replace(ctx.main, h('h1', {}, t('admin.heading')), nav,
		h('p', { class: 'hint' }, t('audit.hint')), form, info,
		h('div', { class: 'scroll' }, h('table', { id: 'audit-table' },
			h('thead', {}, h('tr', {}, ['audit.when', 'audit.who', 'audit.role', 'audit.event', 'audit.what', 'audit.detail', 'audit.address', 'audit.requestId']
				.map((k) => h('th', { scope: 'col' }, t(k))))), tbody)), more);
	let n = 0;
	const load = async (path) => {
		more.disabled = true;
		try {
			const body = await get(path);
			if (!ctx.isCurrent()) return;
			tbody.append(...body.entries.map(entryRow));
			n += body.entries.length;
			info.textContent = n ? t('audit.shown', { n }) : t('audit.empty');
			info.className = 'hint';
			more.hidden = !body.next;
			more.onclick = () => load(body.next);
		} catch (e) {
			info.textContent = errorText(e);
			info.className = 'error';
		} finally {
			more.disabled = false;
		}
	};
	await load('/v1/admin/audit' + qs(apiFilters(q, FILTERS)));
}
