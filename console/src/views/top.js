// top.js: notices, incident reports, counts per status, newest reports.
import { h, replace } from '../dom.js';
import { t, label, dateTime } from '../i18n.js';
import { get } from '../api.js';
import { countsTable, reportsTable, errorText } from './common.js';

export async function topView(ctx) {
	const notices = h('section', { class: 'card', id: 'notices' }, h('h2', {}, t('top.notices')), h('p', {}, t('common.loading')));
	const incidents = h('section', { class: 'card', id: 'incidents' }, h('h2', {}, t('top.incidents')), h('p', {}, t('common.loading')));
	const counts = h('section', { class: 'card', id: 'counts' }, h('h2', {}, t('top.counts')));
	const newest = h('section', { class: 'card', id: 'newest' }, h('h2', {}, t('top.newest')));
	replace(ctx.main, h('h1', {}, t('top.heading')), h('div', { class: 'grid2' }, notices, incidents), counts, newest);

	const [n, i, q] = await Promise.allSettled([get('/v1/notices'), get('/v1/admin/incidents'), get('/v1/staff/reports?limit=10')]);
	if (!ctx.isCurrent()) return;
	if (n.status === 'fulfilled') {
		const list = n.value.notices || [];
		replace(notices, h('h2', {}, t('top.notices')), list.length
			? h('ul', { class: 'notices' }, list.map((x) => h('li', {},
				h('strong', {}, x.title ?? ''), ' ', h('span', { class: 'when' }, `${dateTime(x.starts_at)} – ${dateTime(x.ends_at)}`),
				x.body ? h('p', {}, x.body) : null)))
			: h('p', { class: 'empty' }, t('top.noNotices')));
	} else replace(notices, h('h2', {}, t('top.notices')), h('p', { class: 'error' }, errorText(n.reason)));
	if (i.status === 'fulfilled') {
		const list = i.value.incidents || [];
		replace(incidents, h('h2', {}, t('top.incidents')), list.length
			? h('ul', { class: 'incidents' }, list.map((x) => h('li', {},
				h('strong', {}, x.title ?? ''), ' ', h('span', { class: 'badge' }, label('incident', x.status, x.status)), ' ',
				h('span', { class: 'when' }, `${dateTime(x.started_at)}${x.ended_at ? ' – ' + dateTime(x.ended_at) : ''}`),
				x.cause ? h('p', {}, x.cause) : null,
				(x.updates || []).length ? h('p', {}, x.updates[x.updates.length - 1].body ?? '') : null)))
			: h('p', { class: 'empty' }, t('top.noIncidents')));
	} else replace(incidents, h('h2', {}, t('top.incidents')), h('p', { class: 'hint' }, errorText(i.reason)));
	if (q.status === 'fulfilled') {
		counts.append(countsTable(q.value.counts || {}));
		newest.append(reportsTable(q.value.reports || [], 'newest-reports'),
			h('p', {}, h('a', { href: '#/reports' }, t('top.toQueue'))));
	} else counts.append(h('p', { class: 'error' }, errorText(q.reason)));
}
