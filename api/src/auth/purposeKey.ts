import { hkdfSync } from 'node:crypto';

/** What a key derived from the token key is for. */
export type KeyPurpose = 'address-tag' | 'participant-id';

const derived = new WeakMap<Uint8Array, Map<KeyPurpose, Uint8Array>>();

/**
 * A key for one purpose, derived from the participant token key with HKDF-SHA256 (RFC 5869, the purpose as its
 * `info`): a keyed hash made for one purpose says nothing about another's, and the token key itself only signs
 * tokens. Changing the token key (`TRIBUNE_TOKEN_SECRET`) changes every derived key with it.
 */
export function purposeKey(tokenKey: Uint8Array, purpose: KeyPurpose): Uint8Array {
	let keys = derived.get(tokenKey);
	if (!keys) derived.set(tokenKey, (keys = new Map()));
	let key = keys.get(purpose);
	if (!key) keys.set(purpose, (key = new Uint8Array(hkdfSync('sha256', tokenKey, new Uint8Array(0), `tribune ${purpose} v1`, 32))));
	return key;
}
