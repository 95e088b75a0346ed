// common.js: pieces shared by the report views.
import { h } from '../dom.js';
import { t, label, dateTime, STATUSES } from '../i18n.js';

export function statusBadge(status, fallback) {
	return h('span', { class: `badge status-${status}`, 'data-status': status }, label('status', status, fallback));
}

// statuses in display order: those the server counted, known ones first
export function statusOrder(counts) {
	const keys = counts ? Object.keys(counts) : STATUSES;
	return [...STATUSES.filter((s) => keys.includes(s)), ...keys.filter((s) => !STATUSES.includes(s))];
}

export function countsTable(counts) {
	return h('table', { class: 'counts', id: 'status-counts' },
		h('thead', {}, h('tr', {}, statusOrder(counts).map((s) => h('th', {}, statusBadge(s))))),
		h('tbody', {}, h('tr', {}, statusOrder(counts).map((s) => h('td', { 'data-status': s }, String(counts[s] ?? 0))))));
}

export function reportsTable(reports, id) {
	return h('table', { class: 'reports', id },
		h('thead', {}, h('tr', {}, ['col.id', 'col.created', 'col.status', 'col.category', 'col.department', 'col.title', 'col.address', 'col.visibility']
			.map((k) => h('th', { scope: 'col' }, t(k))))),
		h('tbody', {}, reports.map(reportRow)));
}

export function reportRow(r) {
	return h('tr', { 'data-id': String(r.id) },
		h('td', {}, h('a', { href: `#/reports/${r.id}` }, `#${r.id}`)),
		h('td', {}, dateTime(r.created_at)),
		h('td', {}, statusBadge(r.status, r.status_label)),
		h('td', {}, r.category?.name ?? ''),
		h('td', {}, r.department?.name ?? ''),
		h('td', { class: 'title' }, h('a', { href: `#/reports/${r.id}` }, r.title ?? '')),
		h('td', {}, r.address ?? ''),
		h('td', {}, t(r.visibility === 'public' ? 'vis.public' : 'vis.private')));
}

// errorText(e): an API error for a result line, with the server's detail
// (often what to do) when it gives one
export function errorText(e) {
	const text = e.status === 403 ? t('common.forbidden') : t('common.error', { message: e.message });
	return e.detail ? `${text} ${e.detail}` : text;
}

// outcome(line, kind, text): show the result of a change on its line
// ('ok' or 'error'), or clear it (no kind) when a new change starts
export function outcome(line, kind, text = '') {
	line.textContent = text;
	line.className = kind ? `result ${kind}` : 'result';
	line.hidden = !kind;
}
