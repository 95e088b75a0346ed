// session.js: who is logged in (in memory only) and the idle timer.
import { setCsrf, post } from './api.js';

export const session = {
	account: null,		// {id, role, tenant_id, must_change_password}
	email: null,
	tenant: null,		// {id, name, ...}
	idleMinutes: 30,
	categories: [],		// [{id, code, name, department: {id, name}}]
	departments: [],	// [{id, name}]
	staff: null,		// [{id, name, ...}] or null when the role may not list staff
};

export function isAdmin() {
	return session.account && session.account.role === 'tenant_admin';
}

// start(body, email): the answer of POST /v1/auth/login or GET /v1/auth/session
export function start(loginBody, email) {
	setCsrf(loginBody.csrf_token);
	session.account = loginBody.account;
	session.email = email;
}

export function end() {
	setCsrf(null);
	session.account = null;
	session.email = null;
	session.tenant = null;
	session.staff = null;
	idle.stop();
}

export async function logout() {
	try { await post('/v1/auth/logout'); } catch { /* already gone */ }
	end();
}

// The server ends a staff session after the tenant's idle timeout since its
// last request.  The console counts from its own last request, warns a
// minute before and logs out when the time is up.
export const idle = {
	last: 0,
	timer: null,
	onWarn: null,		// (secondsLeft) => void
	onClear: null,
	onExpire: null,
	touch() {
		this.last = Date.now();
		if (this.onClear) this.onClear();
		this.schedule();
	},
	schedule() {
		clearInterval(this.timer);
		if (!session.account) return;
		this.timer = setInterval(() => this.tick(), 1000);
		this.tick();
	},
	tick() {
		const limit = session.idleMinutes * 60000;
		const left = this.last + limit - Date.now();
		if (left <= 1500) {
			// a little before the server's deadline, so that logout still works
			clearInterval(this.timer);
			if (this.onExpire) this.onExpire();
		} else if (left <= 60000) {
			if (this.onWarn) this.onWarn(Math.ceil(left / 1000));
		}
	},
	stop() {
		clearInterval(this.timer);
		this.timer = null;
		if (this.onClear) this.onClear();
	},
};
