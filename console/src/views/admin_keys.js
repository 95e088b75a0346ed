// admin_keys.js: tenant administration of Open311 API keys (a new key is
// shown once; revoking asks twice) and the hand-over CSV exports, which are
// plain links: the browser sends the session cookie with them and saves the
// file the server names (Content-Disposition: attachment).
import { h, replace, field } from '../dom.js';
import { t, dateTime } from '../i18n.js';
import { get, post, api } from '../api.js';
import { errorText, outcome } from './common.js';

function keyTable(keys, line, redraw) {
	return h('table', { id: 'key-table' },
		h('thead', {}, h('tr', {}, ['keys.id', 'keys.label', 'keys.createdAt', 'keys.state', ''].map((k) => h('th', {}, k ? t(k) : '')))),
		h('tbody', {}, keys.map((k) => {
			const revoke = h('button', { type: 'button', class: 'secondary key-revoke' }, t('keys.revoke'));
			// the first click asks, the second revokes (no window.confirm: it blocks the page)
			revoke.addEventListener('click', async () => {
				if (!revoke.dataset.armed) {
					revoke.dataset.armed = '1';
					revoke.textContent = t('keys.revokeConfirm');
					return;
				}
				try {
					await api('DELETE', `/v1/admin/api-keys/${k.id}`);
					await redraw();
				} catch (e) {
					outcome(line, 'error', errorText(e));
				}
			});
			return h('tr', { 'data-id': String(k.id) },
				h('td', {}, String(k.id)),
				h('td', { class: 'label' }, k.label),
				h('td', {}, dateTime(k.created_at)),
				h('td', { class: 'state' }, k.revoked_at ? t('keys.revokedAt', { when: dateTime(k.revoked_at) }) : t('keys.active')),
				h('td', {}, k.revoked_at ? null : revoke));
		})));
}

export async function keysView(ctx, nav) {
	const { api_keys: keys } = await get('/v1/admin/api-keys');
	if (!ctx.isCurrent()) return;
	const line = h('p', { class: 'result', id: 'key-result', role: 'status', hidden: true });
	const shown = h('div', { id: 'key-created', role: 'status' });
	let table = keyTable(keys, line, redraw);
	async function redraw() {
		const body = await get('/v1/admin/api-keys');
		const next = keyTable(body.api_keys, line, redraw);
		table.replaceWith(next);
		table = next;
	}
	const label = h('input', { type: 'text', id: 'key-label', required: true, maxlength: '200' });
	const form = h('form', { class: 'create', id: 'key-create', onsubmit: async (ev) => {
		ev.preventDefault();
		outcome(line);
		try {
			const body = await post('/v1/admin/api-keys', { label: label.value });
			// shown once: only its SHA-256 is kept, this screen is the only place it appears
			replace(shown, h('div', { class: 'once' },
				h('p', {}, t('keys.created', { label: label.value })),
				h('p', {}, t('keys.key'), ': ', h('code', { id: 'api-key-once' }, body.key))));
			label.value = '';
			await redraw();
		} catch (e) {
			outcome(line, 'error', errorText(e));
		}
	} },
	h('h3', {}, t('keys.issue')), field(t('keys.label'), label, t('keys.labelHint')),
	h('div', { class: 'actions' }, h('button', { type: 'submit', id: 'key-submit' }, t('keys.issue'))));
	replace(ctx.main, h('h1', {}, t('admin.heading')), nav,
		h('section', { class: 'card', id: 'keys-card' }, h('h2', {}, t('admin.section.keys')),
			h('p', { class: 'hint' }, t('keys.hint')), shown, line, table, form));
}

const EXPORTS = ['users', 'reports', 'updates'];
const PART_ROWS = 50000;	// the largest part the server gives

export async function exportsView(ctx, nav) {
	const bom = h('input', { type: 'checkbox', id: 'export-bom', checked: true });
	const after = h('input', { type: 'number', id: 'export-after', min: '0', step: '1', value: '' });
	const links = EXPORTS.map((what) => h('a', { id: `export-${what}`, class: 'download', download: '' }, t(`exports.${what}`)));
	const update = () => {
		for (const [i, what] of EXPORTS.entries()) {
			const q = new URLSearchParams({ limit: String(PART_ROWS) });
			if (bom.checked) q.set('bom', '1');
			if (after.value && /^[0-9]+$/.test(after.value)) q.set('after', after.value);
			links[i].href = `/v1/admin/export/${what}.csv?${q}`;
		}
	};
	bom.addEventListener('change', update);
	after.addEventListener('input', update);
	update();
	replace(ctx.main, h('h1', {}, t('admin.heading')), nav,
		h('section', { class: 'card', id: 'exports-card' }, h('h2', {}, t('admin.section.exports')),
			h('p', { class: 'hint' }, t('exports.hint')),
			h('ul', { class: 'downloads' }, links.map((a, i) => h('li', {}, a, ' ', h('span', { class: 'hint' }, t(`exports.${EXPORTS[i]}Hint`))))),
			h('label', { class: 'check' }, bom, ' ', t('exports.bom')),
			field(t('exports.after'), after, t('exports.afterHint', { rows: PART_ROWS.toLocaleString() }))));
}
