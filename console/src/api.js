// api.js: the JSON API of the gateway, with the session cookie (HttpOnly,
// never visible here) and the CSRF token kept in memory only.

let csrfToken = null;
const hooks = { activity: null, authLost: null };

export function setCsrf(token) { csrfToken = token; }
export function hasSession() { return csrfToken !== null; }
export function onActivity(fn) { hooks.activity = fn; }
export function onAuthLost(fn) { hooks.authLost = fn; }

export class ApiError extends Error {
	constructor(status, error) {
		super((error && error.message) || `HTTP ${status}`);
		this.status = status;
		this.code = error && error.code;
		this.field = error && error.field;
		this.detail = error && error.detail;
		this.supportId = error && error.support_id;
	}
}

async function request(method, path, body, accept) {
	const headers = { Accept: accept };
	const init = { method, headers, credentials: 'same-origin', cache: 'no-store' };
	if (body !== undefined) {
		headers['Content-Type'] = 'application/json';
		init.body = JSON.stringify(body);
	}
	if (method !== 'GET' && method !== 'HEAD' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
	const res = await fetch(path, init);
	if (res.ok) {
		if (csrfToken && hooks.activity) hooks.activity();
		return res;
	}
	let err = null;
	try { err = (await res.json()).error; } catch { /* not JSON */ }
	const e = new ApiError(res.status, err);
	if (res.status === 401 && csrfToken && hooks.authLost && !path.startsWith('/v1/auth/')) hooks.authLost(e);
	throw e;
}

export async function api(method, path, body) {
	const res = await request(method, path, body, 'application/json');
	return res.status === 204 ? null : res.json();
}

export const get = (path) => api('GET', path);
export const post = (path, body) => api('POST', path, body ?? {});
export const patch = (path, body) => api('PATCH', path, body);

export async function getBlob(path) {
	const res = await request('GET', path, undefined, '*/*');
	return res.blob();
}

// query string from an object, leaving out empty values
export function qs(params) {
	const u = new URLSearchParams();
	for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') u.set(k, v);
	const s = u.toString();
	return s ? '?' + s : '';
}
