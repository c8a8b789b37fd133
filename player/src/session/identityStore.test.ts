import { afterEach, describe, expect, it } from 'vitest';
import { forgetHostCredential, joinIdentity, loadAdminSession, loadHostCredential, loadIdentity, saveAdminSession, saveHostCredential, saveIdentity } from './identityStore.js';

/** Web Storage as the browser's: strings by key (Node has none; the browser's own runs in player/test's journeys). */
class MapStorage {
	readonly #items = new Map<string, string>();
	getItem(key: string): string | null {
		return this.#items.get(key) ?? null;
	}
	setItem(key: string, value: string): void {
		this.#items.set(key, String(value));
	}
	removeItem(key: string): void {
		this.#items.delete(key);
	}
}

/** Storage a browser refuses (blocked site data): every access throws. */
const refusing = new Proxy({}, { get: () => () => { throw new Error('SecurityError'); } });

const install = (local: unknown, session: unknown) => Object.assign(globalThis, { localStorage: local, sessionStorage: session });
afterEach(() => install(undefined, undefined));

const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbm9uOngifQ.c2lnbmF0dXJl';

describe('identityStore', () => {
	it('keeps the anonymous identity and the host credential, and joins as the host when there is one', () => {
		install(new MapStorage(), new MapStorage());
		expect(joinIdentity()).toBeUndefined();
		saveIdentity(jwt);
		expect(loadIdentity()).toBe(jwt);
		expect(joinIdentity()).toBe(jwt);
		const host = `${jwt}host`;
		saveHostCredential(host);
		expect(joinIdentity()).toBe(host);
		forgetHostCredential();
		expect(loadHostCredential()).toBeUndefined();
		expect(joinIdentity()).toBe(jwt);
	});

	it('ignores what is not a credential', () => {
		install(new MapStorage(), new MapStorage());
		localStorage.setItem('tribune.identity', 'not a jwt');
		localStorage.setItem('tribune.hostCredential', `${'a'.repeat(5000)}.b.c`);
		expect(loadIdentity()).toBeUndefined();
		expect(loadHostCredential()).toBeUndefined();
		sessionStorage.setItem('tribune.adminSession', '{"token":"x","expiresAt":1}');
		expect(loadAdminSession()).toBeUndefined();
		saveAdminSession({ token: jwt, expiresAt: 1 });
		expect(loadAdminSession()).toEqual({ token: jwt, expiresAt: 1 });
	});

	it('carries on as a new visitor when the browser refuses storage', () => {
		install(refusing, refusing);
		expect(() => saveIdentity(jwt)).not.toThrow();
		expect(loadIdentity()).toBeUndefined();
		expect(joinIdentity()).toBeUndefined();
		expect(loadAdminSession()).toBeUndefined();
	});
});
