// fallback.js: FALLBACK_TRANSITIONS mirrors the table machi.report_transition
// (extension/sql/60_reports.sql) because the API does not expose the allowed
// status changes yet.  It is used only when a report carries no
// "transitions" (or "allowed_statuses") list of its own; the server checks
// every change anyway (409 with the allowed ones in the detail).
export const FALLBACK_TRANSITIONS = {
	received: ['in_progress', 'resolved', 'not_applicable', 'duplicate', 'closed'],
	in_progress: ['received', 'resolved', 'not_applicable', 'duplicate', 'closed'],
	resolved: ['in_progress', 'closed'],
	not_applicable: ['received', 'closed'],
	duplicate: ['received', 'closed'],
	closed: [],
};

export function allowedTransitions(report) {
	const own = report.transitions ?? report.allowed_statuses;
	if (Array.isArray(own)) return own;
	return FALLBACK_TRANSITIONS[report.status] ?? [];
}
