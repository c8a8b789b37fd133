/**
 * The credentials this browser keeps beyond one visit, and the operator's session for one tab:
 * - `tribune.identity` (localStorage): the anonymous identity credential the server hands back on every join (a
 *   signed `anon:…` identity, 30 days, renewed by each join). Sent on the next join, it makes this browser the same
 *   participant in a space again: a ban of that participant survives a new visit without a token.
 * - `tribune.hostCredential` (localStorage): the host credential redeemed from an operator's invite link; it lets this
 *   browser create spaces, and the operator may revoke it.
 * - `tribune.adminSession` (sessionStorage): the admin page's session token, for this tab only (12 h at most).
 * Storage may be unavailable (a browser's private mode, blocked site data): every read answers undefined then, and
 * every write is dropped, so the app carries on as a new visitor.
 */
const identityKey = 'tribune.identity';
const hostCredentialKey = 'tribune.hostCredential';
const adminSessionKey = 'tribune.adminSession';

/** A credential is a compact JWT; anything else found in storage is ignored. */
const jwtShape = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

function read(storage: () => Storage, key: string): string | undefined {
	try {
		return storage().getItem(key) ?? undefined;
	} catch {
		return undefined;
	}
}

function write(storage: () => Storage, key: string, value: string | undefined): void {
	try {
		if (value === undefined) storage().removeItem(key);
		else storage().setItem(key, value);
	} catch {
		// Storage refused (full, or blocked): the credential lasts this page only, as for a new visitor.
	}
}

const local = () => localStorage;
const session = () => sessionStorage;
const credential = (value: string | undefined) => (value && value.length <= 4096 && jwtShape.test(value) ? value : undefined);

export function loadIdentity(): string | undefined {
	return credential(read(local, identityKey));
}

export function saveIdentity(value: string): void {
	write(local, identityKey, value);
}

export function loadHostCredential(): string | undefined {
	return credential(read(local, hostCredentialKey));
}

export function saveHostCredential(value: string): void {
	write(local, hostCredentialKey, value);
}

/** The server no longer accepts it (the operator revoked this host): forgotten, so the create page says what to do. */
export function forgetHostCredential(): void {
	write(local, hostCredentialKey, undefined);
}

/** What a join names this browser by: the host credential when it has one, else its anonymous identity. */
export function joinIdentity(): string | undefined {
	return loadHostCredential() ?? loadIdentity();
}

export interface AdminSession {
	token: string;
	/** When the server stops accepting it, ms since the epoch (server clock). */
	expiresAt: number;
}

export function loadAdminSession(): AdminSession | undefined {
	try {
		const value = JSON.parse(read(session, adminSessionKey) ?? 'null') as Partial<AdminSession> | null;
		return value && credential(value.token) && typeof value.expiresAt === 'number' ? { token: value.token!, expiresAt: value.expiresAt } : undefined;
	} catch {
		return undefined;
	}
}

export function saveAdminSession(value: AdminSession): void {
	write(session, adminSessionKey, JSON.stringify(value));
}

export function forgetAdminSession(): void {
	write(session, adminSessionKey, undefined);
}
