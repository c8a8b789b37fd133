import { createHmac } from 'node:crypto';
import { addressKey } from '../http/trustedProxies.js';
import { purposeKey } from './purposeKey.js';

/**
 * What a participant record keeps of a client's address, for address bans and per-address limits: HMAC-SHA256 of the
 * address (an IPv6 address by its /64, as the connection caps count it) under the token key's address-tag subkey
 * (`purposeKey`), 16 base64url characters. Never the address itself; without the key a tag cannot be tested against
 * guesses. A new token key makes new tags: address bans made under the old one no longer match.
 */
export function clientAddressTag(tokenKey: Uint8Array, address: string): string {
	return createHmac('sha256', purposeKey(tokenKey, 'address-tag')).update(addressKey(address)).digest('base64url').slice(0, 16);
}
